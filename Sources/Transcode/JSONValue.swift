// A JSON document as a tree (RFC 8259), for the small documents Ferry reads whole rather than
// transcodes: JWT headers and claims (RFC 7519), JWK sets (RFC 7517), a PATCH body's keys for
// its field mask. Read by the transcoder's own scanner, so the same strictness and nesting bound
// apply.
import FerryCore

public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members by name; a document that names one twice is refused (RFC 7515 §4 lets a JWS
    /// reader refuse it, and taking either value would let two readers disagree).
    case object([String: JSONValue])

    /// The document in `bytes`: one value and nothing after it but whitespace.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(JSONParseError) {
        var scanner = JSONScanner(bytes)
        self = try Self.read(&scanner)
        try scanner.finish()
    }

    public init(parsing bytes: [UInt8]) throws(JSONParseError) {
        self = try withTypedUnsafeBytes(bytes) { buffer throws(JSONParseError) in try JSONValue(parsing: buffer) }
    }

    private static func read(_ scanner: inout JSONScanner) throws(JSONParseError) -> JSONValue {
        switch scanner.peek() {
        case UInt8(ascii: "{"):
            try scanner.enter()
            scanner.index += 1
            var members: [String: JSONValue] = [:]
            if !scanner.take(UInt8(ascii: "}")) {
                repeat {
                    let nameOffset = scanner.nextTokenOffset()
                    let name = try scanner.readString()
                    try scanner.expect(UInt8(ascii: ":"))
                    guard members.updateValue(try read(&scanner), forKey: name) == nil else {
                        throw scanner.error("member '\(name)' appears twice", at: nameOffset)
                    }
                } while scanner.take(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "}"))
            }
            scanner.depth -= 1
            return .object(members)
        case UInt8(ascii: "["):
            try scanner.enter()
            scanner.index += 1
            var elements: [JSONValue] = []
            if !scanner.take(UInt8(ascii: "]")) {
                repeat { elements.append(try read(&scanner)) } while scanner.take(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "]"))
            }
            scanner.depth -= 1
            return .array(elements)
        case UInt8(ascii: "\""): return .string(try scanner.readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try scanner.readBool())
        case UInt8(ascii: "n"):
            guard scanner.takeNull() else { throw scanner.unexpected("a value") }
            return .null
        default:
            let offset = scanner.nextTokenOffset()
            let text = try scanner.readNumberText()
            guard let number = Double(text), number.isFinite else { throw scanner.error("number \(text) is out of range", at: offset) }
            return .number(number)
        }
    }

    /// The member `name` of an object; nil for a missing member or another kind of value.
    public subscript(name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[name]
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let number) = self { return number }
        return nil
    }
}
