// Pieces of HTTP's field syntax (RFC 9110 §5.6): tokens, optional whitespace (OWS = *( SP / HTAB ))
// around header values, and comma-separated lists.

/// tchar (RFC 9110 §5.6.2): the bytes of methods and field names. Inlinable: the parser
/// calls it for every byte of a header name.
@inlinable
public func isHTTPTokenByte(_ byte: UInt8) -> Bool {
    tokenByteTable.utf8Start[Int(byte)] == UInt8(ascii: "1")
}

/// "1" at the index of each tchar: ALPHA, DIGIT and "!#$%&'*+-.^_`|~" (RFC 9110 §5.6.2). A
/// load per byte of every header name, where two 64-bit masks took a compare and a branch more
/// (the parser's loop over a name: 12 instructions a byte, 9 with this).
@usableFromInline
let tokenByteTable: StaticString = """
    0000000000000000000000000000000001011111001101101111111111000000\
    0111111111111111111111111110001111111111111111111111111111101010\
    0000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000
    """

/// Whether every byte is allowed in a field value: VCHAR, obs-text, SP or HTAB (RFC 9110 §5.5),
/// so no CR, LF, NUL or other control byte. Eight bytes at a time while none is below 0x20 or
/// is DEL (the zero-byte tests of "Bit Twiddling Hacks"), the rare word holding one (a tab, or
/// a bad byte) byte by byte: the parser runs this over every header value.
@inlinable
public func isHTTPFieldValue(_ value: UnsafeRawBufferPointer) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highBits: UInt64 = 0x8080_8080_8080_8080
    var index = 0
    while index + 8 <= value.count {
        let word = value.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        let belowSpace = (word &- ones &* 0x20) & ~word & highBits
        let delete = word ^ (ones &* 0x7F)
        let isDelete = (delete &- ones) & ~delete & highBits
        if belowSpace | isDelete != 0 { break }
        index += 8
    }
    while index < value.count {
        let byte = value[index]
        guard byte > 0x20 && byte != 0x7F || byte == 0x20 || byte == 0x09 else { return false }
        index += 1
    }
    return true
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    public func trimmingOWS() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}

extension HeaderFields {
    /// The members of every `name` field read as a comma-separated list (RFC 9110 §5.6.1),
    /// trimmed and lower-cased: `Connection`, `Transfer-Encoding` and their kin.
    public func listMembers(for name: String) -> [String] {
        values(for: name).flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS().lowercased() }
    }
}

/// Content codings (RFC 9110 §8.4) as far as Ferry reads and writes them: gzip, and identity.
public enum ContentCoding: Equatable, Sendable {
    case identity
    case gzip

    /// Responses smaller than this go uncompressed: gzip's header and trailer alone are 18 bytes,
    /// and compressing small messages costs more CPU than it saves on the wire.
    public static let minimumCompressedBytes = 1024

    /// Whether a body of `contentType` is worth compressing: text, JSON and XML, not media
    /// that is compressed already.
    public static func compresses(_ contentType: String) -> Bool {
        let type = contentType.prefix { $0 != ";" }.trimmingOWS().lowercased()
        return type.hasPrefix("text/") || type.hasSuffix("/json") || type.hasSuffix("+json") || type.hasSuffix("/xml")
            || type.hasSuffix("+xml") || type == "application/x-ndjson" || type == "application/javascript"
    }

    /// The coding of a request body from its `Content-Encoding` members; nil for one Ferry
    /// cannot undo (another coding, or more than one).
    public init?(contentEncoding members: [String]) {
        switch members.filter({ $0 != "identity" }) {
        case []: self = .identity
        case ["gzip"], ["x-gzip"]: self = .gzip
        default: return nil
        }
    }

    /// Whether `Accept-Encoding` members (RFC 9110 §12.5.3) let a response be gzip: `gzip` (or
    /// `x-gzip`) with a weight above zero, else `*` with one. Without the field, no: a client
    /// that says nothing may not inflate.
    public static func acceptsGzip(_ members: [String]) -> Bool {
        var wildcard: Bool?
        for member in members {
            let parts = member.split(separator: ";")
            guard let name = parts.first?.trimmingOWS() else { continue }
            let weight =
                parts.dropFirst().compactMap { parameter -> Double? in
                    let pair = parameter.trimmingOWS().split(separator: "=", maxSplits: 1)
                    return pair.count == 2 && pair[0].lowercased() == "q" ? Double(pair[1].trimmingOWS()) : nil
                }.first ?? 1
            if name == "gzip" || name == "x-gzip" { return weight > 0 }
            if name == "*" { wildcard = weight > 0 }
        }
        return wildcard ?? false
    }
}
