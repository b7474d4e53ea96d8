// Pieces of HTTP's field syntax (RFC 9110 §5.6): tokens, optional whitespace (OWS = *( SP / HTAB ))
// around header values, and comma-separated lists.

/// tchar (RFC 9110 §5.6.2): the bytes of methods and field names. Inlinable: the parser
/// calls it for every byte of a header name.
@inlinable
public func isHTTPTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
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
