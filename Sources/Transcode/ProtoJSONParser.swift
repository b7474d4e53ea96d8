// JSON → protobuf binary (protobuf.dev/programming-guides/json), pulling tokens from the scanner
// and writing wire format as it goes: both field names accepted, 64-bit integers as numbers or
// strings, enums by name or number, bytes in either base64 alphabet, null as "not set".
import FerryCore

public struct JSONParseOptions: Sendable, Equatable {
    /// Skip unknown fields (and unknown enum names) instead of refusing them
    /// (json_format's `ignore_unknown_fields`).
    public var ignoreUnknownFields = false

    public init(ignoreUnknownFields: Bool = false) {
        self.ignoreUnknownFields = ignoreUnknownFields
    }
}

struct ProtoJSONParser {
    var scanner: JSONScanner
    let options: JSONParseOptions
    let layouts: MessageLayouts

    /// A message (an object, or a well-known type's own JSON form), its fields appended to
    /// `writer` without tag or length: nested messages are written in place.
    mutating func parseMessage(_ layout: MessageLayout, into writer: inout WireWriter) throws(JSONParseError) {
        if let wellKnown = layout.wellKnown {
            try parseWellKnown(wellKnown, layout, into: &writer)
        } else {
            try parseObject(layout, into: &writer)
        }
    }

    /// A regular message as a JSON object (`ignoring` skips keys already handled: Any's "@type").
    mutating func parseObject(
        _ layout: MessageLayout, ignoring ignoredKey: String? = nil,
        into writer: inout WireWriter
    ) throws(JSONParseError) {
        try scanner.expect(UInt8(ascii: "{"))
        try scanner.enter()
        var seen = FieldSet(count: layout.fields.count)
        var oneofMembers = [Int?](repeating: nil, count: layout.oneofNames.count)
        if !scanner.take(UInt8(ascii: "}")) {
            repeat {
                let keyOffset = scanner.nextTokenOffset()
                let key = try scanner.readStringContent()
                try scanner.expect(UInt8(ascii: ":"))
                if let ignoredKey, scanner.withBytes(of: key, { $0.elementsEqual(ignoredKey.utf8) }) {
                    try scanner.skipValue()
                    continue
                }
                guard let index = scanner.withBytes(of: key, layout.index(forKey:)) else {
                    if options.ignoreUnknownFields {
                        try scanner.skipValue()
                        continue
                    }
                    throw scanner.error(
                        "unknown field '\(scanner.withBytes(of: key) { String(decoding: $0, as: UTF8.self) })' in \(layout.fullName)",
                        at: keyOffset)
                }
                let field = layout.fields[index]
                guard seen.insert(index) else {
                    throw scanner.error(
                        "field '\(scanner.withBytes(of: key) { String(decoding: $0, as: UTF8.self) })' is given twice", at: keyOffset)
                }
                scanner.path.append(.field(field.jsonName))
                defer { scanner.path.removeLast() }
                if !acceptsNull(field.kind), !field.isRepeated, scanner.takeNull() { continue }
                if let oneof = field.oneofIndex {
                    if let other = oneofMembers[oneof] {
                        throw scanner.error(
                            "oneof '\(layout.oneofNames[oneof])' has both '\(layout.fields[other].jsonName)' and '\(field.jsonName)' set",
                            at: keyOffset)
                    }
                    oneofMembers[oneof] = index
                }
                try parseField(field, into: &writer)
            } while scanner.take(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
        }
        scanner.depth -= 1
    }

    /// Whether JSON null is a value of this kind rather than "not set".
    private func acceptsNull(_ kind: FieldKind) -> Bool {
        switch kind {
        case .message(let layout): layout.wellKnown == .value
        case .enumeration(let layout): layout.isNullValue
        default: false
        }
    }

    private mutating func parseField(_ field: FieldLayout, into writer: inout WireWriter) throws(JSONParseError) {
        if field.isMap {
            try parseMap(field, into: &writer)
        } else if field.isRepeated {
            if scanner.takeNull() { return }
            try scanner.expect(UInt8(ascii: "["))
            try scanner.enter()
            let packed = field.kind.isPackable ? writer.beginLengthDelimited(field.number) : nil
            if !scanner.take(UInt8(ascii: "]")) {
                var element = 0
                repeat {
                    scanner.path.append(.element(element))
                    defer { scanner.path.removeLast() }
                    if !acceptsNull(field.kind), scanner.peek() == UInt8(ascii: "n") {
                        throw scanner.error("null is not allowed as an element of a repeated field")
                    }
                    if packed != nil {
                        try parseScalar(field.kind, into: &writer, ignoringUnknownEnum: false)
                    } else {
                        try parseSingular(field, into: &writer)
                    }
                    element += 1
                } while scanner.take(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "]"))
            }
            scanner.depth -= 1
            if let packed { writer.endLengthDelimited(packed, droppingIfEmpty: true) }
        } else {
            try parseSingular(field, into: &writer)
        }
    }

    /// One value of a singular field, or one element of a repeated field, with its tag.
    private mutating func parseSingular(_ field: FieldLayout, into writer: inout WireWriter) throws(JSONParseError) {
        switch field.kind {
        case .message(let layout):
            let mark = writer.beginLengthDelimited(field.number)
            try parseMessage(layout, into: &writer)
            writer.endLengthDelimited(mark)
        case .string:
            let content = try scanner.readStringContent()
            scanner.withBytes(of: content) { writer.writeLengthDelimited(field.number, $0) }
        case .bytes:
            try parseBytes(field.number, into: &writer)
        default:
            let start = writer.bytes.count
            writer.writeTag(field.number, field.kind.wireType)
            let valueStart = writer.bytes.count
            try parseScalar(field.kind, into: &writer, ignoringUnknownEnum: options.ignoreUnknownFields)
            // An ignored unknown enum name wrote no value: take its tag back.
            if writer.bytes.count == valueStart { writer.bytes.removeSubrange(start...) }
        }
    }

    private mutating func parseMap(_ field: FieldLayout, into writer: inout WireWriter) throws(JSONParseError) {
        guard case .message(let entry) = field.kind, let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
            throw scanner.error("\(field.name): a map entry needs fields 1 and 2")
        }
        if scanner.takeNull() { return }
        try scanner.expect(UInt8(ascii: "{"))
        try scanner.enter()
        if !scanner.take(UInt8(ascii: "}")) {
            repeat {
                let keyOffset = scanner.nextTokenOffset()
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                scanner.path.append(.key(key))
                defer { scanner.path.removeLast() }
                let entry = writer.beginLengthDelimited(field.number)
                try encodeMapKey(key, keyField, into: &writer, at: keyOffset)
                if !acceptsNull(valueField.kind), scanner.peek() == UInt8(ascii: "n") {
                    throw scanner.error("null is not allowed as a map value")
                }
                try parseSingular(valueField, into: &writer)
                writer.endLengthDelimited(entry)
            } while scanner.take(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
        }
        scanner.depth -= 1
    }

    /// Map keys are JSON strings holding a string, a bool or an integer.
    private func encodeMapKey(_ key: String, _ field: FieldLayout, into writer: inout WireWriter, at offset: Int) throws(JSONParseError) {
        if case .string = field.kind {
            writer.writeLengthDelimited(1, key.utf8)
            return
        }
        writer.writeTag(1, field.kind.wireType)
        if case .bool = field.kind {
            guard key == "true" || key == "false" else { throw scanner.error("map key '\(key)' is not true or false", at: offset) }
            writer.writeVarint(key == "true" ? 1 : 0)
            return
        }
        guard let value = Self.integer(key, kind: field.kind) else {
            throw scanner.error("map key '\(key)' is not a valid \(field.kind)", at: offset)
        }
        Self.encodeInteger(value, kind: field.kind, into: &writer)
    }

    /// A scalar value without its tag (packed elements and singular scalars).
    mutating func parseScalar(_ kind: FieldKind, into writer: inout WireWriter, ignoringUnknownEnum: Bool) throws(JSONParseError) {
        let offset = scanner.nextTokenOffset()
        switch kind {
        case .bool:
            writer.writeVarint(try scanner.readBool() ? 1 : 0)
        case .double:
            writer.writeFixed64(try readFloatingPoint(isFloat: false).bitPattern)
        case .float:
            writer.writeFixed32(Float(try readFloatingPoint(isFloat: true)).bitPattern)
        case .enumeration(let layout):
            if scanner.peek() == UInt8(ascii: "\"") {
                let name = try scanner.readString()
                guard let number = layout.numbersByName[name] else {
                    if ignoringUnknownEnum { return }
                    throw scanner.error("'\(name)' is not a value of enum \(layout.fullName)", at: offset)
                }
                writer.writeVarint(UInt64(bitPattern: Int64(number)))
            } else if layout.isNullValue && scanner.takeNull() {
                writer.writeVarint(0)
            } else {
                let number = try readInteger(kind: .int32)
                writer.writeVarint(UInt64(bitPattern: number.signed))
            }
        case .string, .bytes, .message:
            throw scanner.error("internal: \(kind) is not a scalar")
        default:
            Self.encodeInteger(try readInteger(kind: kind), kind: kind, into: &writer)
        }
    }

    /// A base64 string as a bytes field `number`, decoded straight into the writer after its
    /// tag and length: no array per value.
    mutating func parseBytes(_ number: Int32, into writer: inout WireWriter) throws(JSONParseError) {
        let offset = scanner.nextTokenOffset()
        let content = try scanner.readStringContent()
        let valid = scanner.withBytes(of: content) { text in
            guard let length = Base64.decodedLength(lenient: text) else { return false }
            writer.writeTag(number, .lengthDelimited)
            writer.writeVarint(UInt64(length))
            return Base64.decodeLenient(text, appendingTo: &writer.bytes)
        }
        guard valid else { throw scanner.error("not base64", at: offset) }
    }

    /// An integer value: a JSON number with an integral value, or a string holding one.
    struct IntegerValue {
        var signed: Int64
        var unsigned: UInt64
    }

    private mutating func readInteger(kind: FieldKind) throws(JSONParseError) -> IntegerValue {
        let offset = scanner.nextTokenOffset()
        let text: String
        if scanner.peek() == UInt8(ascii: "\"") {
            text = try scanner.readString()
        } else {
            text = try scanner.readNumberText()
        }
        guard let value = Self.integer(text, kind: kind) else {
            throw scanner.error("'\(text)' is not a valid \(kind) value", at: offset)
        }
        return value
    }

    /// `text` as an integer of `kind`, range checked; exponents and fractions are accepted when
    /// the value is integral (1e3, 5.0), as json_format does for numbers.
    static func integer(_ text: String, kind: FieldKind) -> IntegerValue? {
        let (minimum, maximum): (Int64, UInt64)
        switch kind {
        case .int32, .sint32, .sfixed32, .enumeration: (minimum, maximum) = (Int64(Int32.min), UInt64(Int32.max))
        case .uint32, .fixed32: (minimum, maximum) = (0, UInt64(UInt32.max))
        case .int64, .sint64, .sfixed64: (minimum, maximum) = (Int64.min, UInt64(Int64.max))
        case .uint64, .fixed64: (minimum, maximum) = (0, UInt64.max)
        default: return nil
        }
        if let signed = Int64(text) {
            guard signed >= minimum, signed >= 0 ? UInt64(signed) <= maximum : true else { return nil }
            return IntegerValue(signed: signed, unsigned: UInt64(bitPattern: signed))
        }
        if let unsigned = UInt64(text) {
            guard unsigned <= maximum else { return nil }
            return IntegerValue(signed: Int64(bitPattern: unsigned), unsigned: unsigned)
        }
        guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(text),
            double.isFinite, double == double.rounded(),
            double >= Double(minimum), double <= Double(maximum), abs(double) < 9.007_199_254_740_992e15
        else { return nil }
        let signed = Int64(double)
        return IntegerValue(signed: signed, unsigned: UInt64(bitPattern: signed))
    }

    static func encodeInteger(_ value: IntegerValue, kind: FieldKind, into writer: inout WireWriter) {
        switch kind {
        case .int32, .int64, .uint32, .uint64, .enumeration: writer.writeVarint(value.unsigned)
        case .sint32: writer.writeVarint(zigZagEncode32(Int32(truncatingIfNeeded: value.signed)))
        case .sint64: writer.writeVarint(zigZagEncode64(value.signed))
        case .fixed32, .sfixed32: writer.writeFixed32(UInt32(truncatingIfNeeded: value.unsigned))
        case .fixed64, .sfixed64: writer.writeFixed64(value.unsigned)
        default: break
        }
    }

    /// A number, or one of the strings "NaN", "Infinity", "-Infinity", or a numeric string.
    private mutating func readFloatingPoint(isFloat: Bool) throws(JSONParseError) -> Double {
        let offset = scanner.nextTokenOffset()
        let text: String
        if scanner.peek() == UInt8(ascii: "\"") {
            text = try scanner.readString()
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: break
            }
        } else {
            text = try scanner.readNumberText()
        }
        guard let value = Double(text), !value.isNaN, text.first != "+",
            !text.contains(where: { $0.isWhitespace || $0.isLetter && $0 != "e" && $0 != "E" })
        else {
            throw scanner.error("'\(text)' is not a number", at: offset)
        }
        // A float's shortest text may round above Float.greatestFiniteMagnitude (3.4028235e+38):
        // what matters is that it converts to a finite float.
        guard value.isFinite, !isFloat || Float(value).isFinite else {
            throw scanner.error("\(text) is out of range for a \(isFloat ? "float" : "double")", at: offset)
        }
        return value
    }
}

/// The fields of one JSON object seen so far: a bit each, in a word for up to 64 fields (no
/// allocation per object), in an array beyond.
private struct FieldSet {
    private var bits: UInt64 = 0
    private var overflow: [Bool]

    init(count: Int) {
        overflow = count > 64 ? [Bool](repeating: false, count: count) : []
    }

    /// Adds `index`; false when it was already there.
    mutating func insert(_ index: Int) -> Bool {
        if overflow.isEmpty {
            let bit: UInt64 = 1 << UInt64(index)
            defer { bits |= bit }
            return bits & bit == 0
        }
        defer { overflow[index] = true }
        return !overflow[index]
    }
}
