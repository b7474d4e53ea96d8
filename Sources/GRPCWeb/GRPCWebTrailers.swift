// The gRPC-Web trailer frame (PROTOCOL-WEB.md, "Message framing"): trailers travel in the body
// as a frame with flag 0x80 whose payload is an HTTP/1-style header block with lower-case names.
import FerryCore

public enum GRPCWebTrailers {
    /// The complete trailer frame (prefix and payload) for the upstream's `trailers`, without
    /// the fields a gRPC-Web response never forwards (GRPCWebMetadata), written in one go.
    public static func frame(_ trailers: HeaderFields) -> [UInt8] {
        var out: [UInt8] = []
        // Reserved before the prefix goes in: an array literal would be one allocation and
        // growing it a second.
        out.reserveCapacity(GRPCFrame.headerLength + 64 + trailers.count * 32)
        out.append(GRPCFrame.trailerFlag)
        out.append(contentsOf: repeatElement(0, count: 4))
        trailers.appendFieldLines(separator: ":", to: &out, where: GRPCWebMetadata.isForwardedResponseField)
        GRPCFrame.writeLength(out.count - GRPCFrame.headerLength, into: &out, at: 0)
        return out
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
