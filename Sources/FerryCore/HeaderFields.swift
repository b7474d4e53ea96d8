// An ordered list of header fields with lower-case names: HTTP/1.1 headers, HTTP/2
// headers, gRPC metadata and trailers all use it.

/// One header field. Names are stored lower-case (RFC 9113 §8.2.2 requires it on HTTP/2,
/// and gRPC-Web trailers use lower-case names, PROTOCOL-WEB.md).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header fields in arrival order; a name may repeat.
public struct HeaderFields: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [HeaderField] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    /// Appends a field; the name is lower-cased.
    public mutating func append(name: String, value: String) {
        fields.append(HeaderField(name: name.lowercased(), value: value))
    }

    public mutating func append(contentsOf other: HeaderFields) {
        fields.append(contentsOf: other.fields)
    }

    /// The first value for `name` (lower-case).
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Every value for `name` (lower-case), in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { $0.name == name ? $0.value : nil }
    }

    public mutating func remove(name: String) {
        fields.removeAll { $0.name == name }
    }

    public func makeIterator() -> IndexingIterator<[HeaderField]> {
        fields.makeIterator()
    }
}
