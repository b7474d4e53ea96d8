// gRPC-Web content types (PROTOCOL-WEB.md, "Content-Type") and the native type each maps to.

/// A request or response content type of the gRPC-Web protocol.
public struct GRPCWebContentType: Sendable, Equatable {
    /// Whether the body is base64 text (`application/grpc-web-text`).
    public var isText: Bool
    /// The message format suffix after `+`, e.g. `proto`; nil when absent (which means proto).
    public var format: String?

    public init(isText: Bool, format: String?) {
        self.isText = isText
        self.format = format
    }

    /// Parses a `Content-Type` value; parameters such as `; charset=utf-8` are ignored and
    /// the type is case-insensitive (RFC 9110 §8.3.1). Returns nil for anything that is not a
    /// gRPC-Web type.
    public init?(parsing value: UnsafeRawBufferPointer) {
        // The types gRPC-Web clients send, as they send them, are matched whole first.
        if let exact = Self.exactTypes.first(where: { value.equals($0.spelling) }) {
            self = exact.type
            return
        }
        // On the raw bytes: every gRPC-Web request's type is parsed here.
        guard let parsed = GRPCWebContentType.parse(value) else { return nil }
        self = parsed
    }

    public init?(parsing value: String) {
        guard let parsed = Array(value.utf8).withUnsafeBytes({ GRPCWebContentType(parsing: $0) }) else { return nil }
        self = parsed
    }

    private static func parse(_ value: UnsafeRawBufferPointer) -> GRPCWebContentType? {
        var start = 0
        var end = 0
        while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
        while start < end, value[start] == 0x20 || value[start] == 0x09 { start += 1 }
        while end > start, value[end - 1] == 0x20 || value[end - 1] == 0x09 { end -= 1 }
        var index = start
        guard skip("application/grpc-web", in: value, at: &index, end: end) else { return nil }
        let isText = skip("-text", in: value, at: &index, end: end)
        guard index < end else { return GRPCWebContentType(isText: isText, format: nil) }
        guard value[index] == UInt8(ascii: "+"), index + 1 < end else { return nil }
        let suffix = UnsafeRawBufferPointer(rebasing: value[(index + 1)..<end])
        guard suffix.allSatisfy({ isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
            return nil
        }
        // Lower-cased byte by byte (the suffix is ASCII), then decoded: small strings
        // ("proto", "json") are stored inline, and String.lowercased's Unicode path is not taken.
        let format = String(unsafeUninitializedCapacity: suffix.count) { buffer in
            for offset in 0..<suffix.count { buffer[offset] = asciiLowercased(suffix[offset]) }
            return suffix.count
        }
        return GRPCWebContentType(isText: isText, format: format)
    }

    private static let exactTypes: [(spelling: StaticString, type: GRPCWebContentType)] = [
        ("application/grpc-web+proto", GRPCWebContentType(isText: false, format: "proto")),
        ("application/grpc-web-text", GRPCWebContentType(isText: true, format: nil)),
        ("application/grpc-web", GRPCWebContentType(isText: false, format: nil)),
        ("application/grpc-web-text+proto", GRPCWebContentType(isText: true, format: "proto")),
    ]

    /// Whether `value[index...]` starts with `lowercase`, compared case-insensitively; on
    /// success `index` moves past it.
    private static func skip(
        _ lowercase: StaticString, in value: UnsafeRawBufferPointer, at index: inout Int, end: Int
    ) -> Bool {
        let start = index
        let count = lowercase.utf8CodeUnitCount
        guard end - start >= count else { return false }
        for position in 0..<count where asciiLowercased(value[start + position]) != lowercase.utf8Start[position] {
            return false
        }
        index = start + count
        return true
    }

    /// Whether an `Accept` header asks for a text-encoded response (PROTOCOL-WEB.md,
    /// "Text-encoded (response) streams").
    public static func acceptsText(_ accept: ArraySlice<UInt8>?) -> Bool {
        accept?.containsCaseInsensitive("application/grpc-web-text") ?? false
    }

    /// The content type of the native gRPC request sent upstream.
    public var upstreamContentType: String {
        switch format {
        case nil: "application/grpc"
        case "proto": "application/grpc+proto"
        case let format?: "application/grpc+\(format)"
        }
    }

    /// The content type of the response to the browser, in the same format as the request.
    public func responseContentType(text: Bool) -> String {
        switch (text, format) {
        case (false, nil), (false, "proto"): "application/grpc-web+proto"
        case (true, nil), (true, "proto"): "application/grpc-web-text+proto"
        case (false, let format?): "application/grpc-web+\(format)"
        case (true, let format?): "application/grpc-web-text+\(format)"
        }
    }
}

private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
}

private func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    default: false
    }
}
