// The gRPC-Web trailer frame (PROTOCOL-WEB.md, "Message framing"): trailers travel in the body
// as a frame with flag 0x80 whose payload is an HTTP/1-style header block with lower-case names.
import FerryCore

public enum GRPCWebTrailers {
    /// The complete trailer frame (prefix and payload) for the upstream's `trailers`, without
    /// the fields a gRPC-Web response never forwards (GRPCWebMetadata), lent to `body`. It is
    /// written in one go into temporary storage (the stack, for any usual block): a response's
    /// last frame costs no allocation.
    public static func withFrame<Result>(_ trailers: HeaderFields, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let capacity = GRPCFrame.headerLength + trailers.fieldLinesCapacity(separator: ":")
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { storage in
            let prefix = storage.baseAddress!
            let length = trailers.writeFieldLines(
                separator: ":", into: prefix + GRPCFrame.headerLength, where: GRPCWebMetadata.isForwardedResponseField)
            GRPCFrame.writeHeader(flags: GRPCFrame.trailerFlag, length: length, at: prefix)
            return body(UnsafeRawBufferPointer(start: prefix, count: GRPCFrame.headerLength + length))
        }
    }

    /// Parses a trailer frame's payload back into fields (for tests and clients).
    public static func parse(_ payload: [UInt8]) -> HeaderFields {
        var fields = HeaderFields()
        for line in payload.split(separator: 0x0A) {
            let trimmed = line.last == 0x0D ? line.dropLast() : line
            guard let colon = trimmed.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: trimmed[..<colon], as: UTF8.self)
            let value = String(decoding: trimmed[(colon + 1)...], as: UTF8.self)
            fields.append(name: name, value: String(value.trimmingOWS()))
        }
        return fields
    }
}
