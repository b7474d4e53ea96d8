// A fixed set of lower-case field names, asked about every field of every request and response
// (which fields a hop forwards): the names are grouped by length, so a field is compared with
// the one or two of its own length rather than with the whole list.

public struct FieldNameSet: Sendable {
    /// Index: a name's length in bytes.
    private let byLength: [[StaticString]]

    public init(_ names: [StaticString]) {
        var byLength = [[StaticString]](repeating: [], count: (names.map(\.utf8CodeUnitCount).max() ?? 0) + 1)
        for name in names { byLength[name.utf8CodeUnitCount].append(name) }
        self.byLength = byLength
    }

    /// Whether field `index` of `headers` has one of the names.
    public func contains(_ headers: HeaderFields, at index: Int) -> Bool {
        let length = headers.nameLength(at: index)
        guard length < byLength.count else { return false }
        for name in byLength[length] where headers.name(at: index, is: name) { return true }
        return false
    }
}
