// google.api.HttpBody (google/api/httpbody.proto): a body that is not JSON. When a rule's body
// or a method's reply (or its response_body) is an HttpBody, the HTTP body passes through as
// its `data` and the HTTP Content-Type as its `content_type`, both ways — as grpc-gateway and
// Envoy's transcoder do (google/api/http.proto, "HttpBody").

/// Where an HttpBody sits in a request or reply message.
public struct HTTPBodyPlacement: Sendable, Equatable {
    /// The field numbers leading from the message down to the HttpBody; empty when the
    /// message is itself an HttpBody.
    public var fieldNumbers: [Int32]

    static let typeName = "google.api.HttpBody"
    private static let contentTypeNumber: Int32 = 1
    private static let dataNumber: Int32 = 2

    /// A message holding only the HttpBody `{content_type, data}` at this placement, written
    /// in one pass: the lengths of the enclosing fields are computed first.
    public func encode(contentType: String, data: UnsafeRawBufferPointer) -> [UInt8] {
        var inner = 0
        if !contentType.isEmpty { inner += lengthDelimitedSize(Self.contentTypeNumber, contentType.utf8.count) }
        if !data.isEmpty { inner += lengthDelimitedSize(Self.dataNumber, data.count) }
        var payloadLengths: [Int] = []
        var length = inner
        for number in fieldNumbers.reversed() {
            payloadLengths.append(length)
            length = lengthDelimitedSize(number, length)
        }
        var writer = WireWriter()
        writer.bytes.reserveCapacity(length)
        for (number, payloadLength) in zip(fieldNumbers, payloadLengths.reversed()) {
            writer.writeTag(number, .lengthDelimited)
            writer.writeVarint(UInt64(payloadLength))
        }
        if !contentType.isEmpty { writer.writeLengthDelimited(Self.contentTypeNumber, contentType.utf8) }
        if !data.isEmpty { writer.writeLengthDelimited(Self.dataNumber, data) }
        return writer.bytes
    }

    /// The content type and data of the HttpBody at this placement in `message`. Occurrences
    /// are read in wire order, so the last one wins, as merging them would give.
    public func decode(_ message: UnsafeRawBufferPointer) throws(WireFormatError) -> (contentType: String, data: [UInt8]) {
        var contentType: Range<Int>?
        var data: Range<Int>?
        try visit(message, 0..<message.count, depth: 0) { number, range in
            if number == Self.contentTypeNumber { contentType = range } else if number == Self.dataNumber { data = range }
        }
        guard let contentType else { return ("", data.map { Array(message[$0]) } ?? []) }
        let bytes = UnsafeRawBufferPointer(rebasing: message[contentType])
        guard let text = bytes.withMemoryRebound(to: UInt8.self, validatedUTF8String) else {
            throw WireFormatError(offset: contentType.lowerBound, reason: "HttpBody.content_type is not valid UTF-8")
        }
        return (text, data.map { Array(message[$0]) } ?? [])
    }

    private func visit(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int,
        _ body: (Int32, Range<Int>) -> Void
    ) throws(WireFormatError) {
        var reader = WireReader(bytes, range: range)
        while let (number, payload) = try reader.nextLengthDelimited() {
            if depth == fieldNumbers.count {
                body(number, payload)
            } else if number == fieldNumbers[depth] {
                try visit(bytes, payload, depth: depth + 1, body)
            }
        }
    }
}

private func lengthDelimitedSize(_ number: Int32, _ payload: Int) -> Int {
    varintSize(UInt64(number) << 3) + varintSize(UInt64(payload)) + payload
}

private func varintSize(_ value: UInt64) -> Int {
    (64 - value.leadingZeroBitCount + 6) / 7 + (value == 0 ? 1 : 0)
}
