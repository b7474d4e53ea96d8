// Optional whitespace (OWS = *( SP / HTAB ), RFC 9110 §5.6.3) around header values and list members.

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
