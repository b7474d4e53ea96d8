// A fixed set of lower-case field names, asked about every field of every request and response
// (which fields a hop forwards): the names are grouped by length, so a field is compared with
// the one or two of its own length rather than with the whole list.

public struct FieldNameSet: Sendable {
    /// The names, shortest first.
    private let names: [StaticString]
    /// Index: a length in bytes; the names of that length are `names[starts[length]..<starts[length + 1]]`.
    /// One flat array, not an array per length: reading an inner array would retain it.
    private let starts: [Int]
    /// A bit per length and last byte of the names (`HeaderFields.nameBit`): most names asked
    /// about that are not here are told by their bit alone, without a compare.
    private let bits: UInt64

    public init(_ names: [StaticString]) {
        let sorted = names.sorted { $0.utf8CodeUnitCount < $1.utf8CodeUnitCount }
        let longest = sorted.last?.utf8CodeUnitCount ?? 0
        var starts = [Int](repeating: sorted.count, count: longest + 2)
        for (position, name) in sorted.enumerated().reversed() { starts[name.utf8CodeUnitCount] = position }
        for length in stride(from: longest, through: 0, by: -1) where starts[length] > starts[length + 1] {
            starts[length] = starts[length + 1]
        }
        self.names = sorted
        self.starts = starts
        bits = sorted.reduce(0) { bits, name in
            let length = name.utf8CodeUnitCount
            return bits | HeaderFields.nameBit(length: length, last: length == 0 ? 0 : name.utf8Start[length - 1])
        }
    }

    /// Whether `name` (lower-case bytes, as a field's name is stored) is one of the names.
    public func contains(_ name: UnsafeRawBufferPointer) -> Bool {
        let length = name.count
        guard bits & HeaderFields.nameBit(length: length, last: length == 0 ? 0 : name[length - 1]) != 0, length + 1 < starts.count else {
            return false
        }
        // The candidates are as long as `name`: a prefix of its length is the whole name.
        for position in starts[length]..<starts[length + 1] where name.hasPrefix(names[position]) { return true }
        return false
    }
}
