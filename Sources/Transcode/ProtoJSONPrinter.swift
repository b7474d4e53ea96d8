// Protobuf binary → JSON (protobuf.dev/programming-guides/json), walking the wire format with
// the message layout and writing JSON bytes directly: no message objects, no value tree.
import FerryCore

/// Options of the proto3 JSON printer (json_format's names in parentheses).
public struct JSONPrintOptions: Sendable, Equatable {
    /// Print fields without presence even when they hold their default
    /// (`always_print_fields_with_no_presence`).
    public var emitUnpopulated = false
    /// Keys are the .proto field names, not lowerCamelCase (`preserving_proto_field_name`).
    public var useProtoNames = false
    /// Enums as numbers, not names (`use_integers_for_enums`).
    public var enumsAsIntegers = false

    public init(emitUnpopulated: Bool = false, useProtoNames: Bool = false, enumsAsIntegers: Bool = false) {
        self.emitUnpopulated = emitUnpopulated
        self.useProtoNames = useProtoNames
        self.enumsAsIntegers = enumsAsIntegers
    }
}

/// Why a message could not be printed: bad wire format, or a value JSON cannot hold.
public struct JSONPrintError: Error, Equatable, CustomStringConvertible {
    public var reason: String

    public var description: String { reason }
}

struct ProtoJSONPrinter {
    let options: JSONPrintOptions
    /// Resolves the types named in `google.protobuf.Any`.
    let layouts: MessageLayouts?
    let out: JSONOutput
    /// Messages being printed, one inside the other (`maxNestingDepth`).
    private var depth = 0

    init(options: JSONPrintOptions, layouts: MessageLayouts?, capacity: Int = 256) {
        self.options = options
        self.layouts = layouts
        out = JSONOutput(capacity: capacity)
    }

    /// Prints the message in `bytes[range]`.
    mutating func printMessage(_ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(JSONPrintError) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= maxNestingDepth else {
            throw JSONPrintError(reason: "\(layout.fullName) nested deeper than \(maxNestingDepth) levels")
        }
        if let wellKnown = layout.wellKnown {
            try printWellKnown(wellKnown, layout, bytes, range)
            return
        }
        let occurrences = try collect(layout, bytes, range)
        out.append(UInt8(ascii: "{"))
        var first = true
        var position = 0
        for (index, field) in layout.fields.enumerated() {
            let start = position
            while position < occurrences.count && occurrences[position].field == index { position += 1 }
            let mine = occurrences[start..<position]
            if mine.isEmpty {
                guard options.emitUnpopulated, !field.hasPresence else { continue }
            } else if !field.isRepeated, !field.hasPresence, !options.emitUnpopulated,
                isDefault(field.kind, bytes, mine[mine.endIndex - 1])
            {
                continue
            }
            writeKey(field, first: &first)
            try printFieldValue(field, mine, bytes)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A field's JSON value from its occurrences: an array, an object for a map, the merged
    /// message, or the last scalar; its empty or default form when it has none.
    mutating func printFieldValue(
        _ field: FieldLayout, _ occurrences: ArraySlice<Occurrence>,
        _ bytes: UnsafeRawBufferPointer
    ) throws(JSONPrintError) {
        if field.isMap {
            try printMapField(field, occurrences, bytes)
        } else if field.isRepeated {
            try printRepeatedField(field, occurrences, bytes)
        } else if occurrences.isEmpty {
            try printDefault(field.kind)
        } else if case .message(let nested) = field.kind {
            try printSingularMessage(nested, occurrences, bytes)
        } else {
            let last = occurrences[occurrences.endIndex - 1]
            var reader = WireReader(bytes, range: last.range)
            try printScalar(field.kind, &reader, wireType: last.wireType)
        }
    }

    /// The JSON value of the field at `path` (.proto names) of the message in `bytes[range]`:
    /// a response's `response_body` (google/api/http.proto).
    mutating func printField(
        at path: ArraySlice<String>, _ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer,
        _ range: Range<Int>
    ) throws(JSONPrintError) {
        guard let name = path.first, let index = layout.indexByJSONName[name] else {
            throw JSONPrintError(reason: "'\(path.joined(separator: "."))' is not a field of \(layout.fullName)")
        }
        let field = layout.fields[index]
        let mine = try collect(layout, bytes, range).filter { $0.field == index }[...]
        if path.count == 1 {
            try printFieldValue(field, mine, bytes)
            return
        }
        guard case .message(let nested) = field.kind, !field.isRepeated else {
            throw JSONPrintError(reason: "'\(name)' is not a singular message field of \(layout.fullName)")
        }
        try withMerged(mine, bytes) { (printer: inout ProtoJSONPrinter, merged, range) throws(JSONPrintError) in
            try printer.printField(at: path.dropFirst(), nested, merged, range)
        }
    }

    struct Occurrence {
        var field: Int
        var wireType: WireType
        /// The value (varint, fixed) or the payload (length-delimited).
        var range: Range<Int>
    }

    /// Every known field's occurrences, grouped by field in declaration order (stable: the
    /// wire order stays within a field). Unknown fields are skipped, as json_format drops them.
    private func collect(
        _ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>
    ) throws(JSONPrintError) -> [Occurrence] {
        var occurrences: [Occurrence] = []
        var reader = WireReader(bytes, range: range)
        do throws(WireFormatError) {
            while !reader.isAtEnd {
                let (number, type) = try reader.readTag()
                guard let index = layout.index(number: number) else {
                    try reader.skip(type, number: number)
                    continue
                }
                let start = reader.index
                let field = layout.fields[index]
                // A scalar field in length-delimited form is packed: only a repeated one may be
                // (a singular one so encoded printed as set when it was not, found by fuzzing).
                guard type == field.kind.wireType || (type == .lengthDelimited && field.isRepeated) else {
                    throw reader.error(
                        "\(layout.fullName).\(field.name) has wire type \(type.rawValue), not \(field.kind.wireType.rawValue)", at: start)
                }
                switch type {
                case .varint: _ = try reader.readVarint()
                case .fixed32: _ = try reader.readFixed32()
                case .fixed64: _ = try reader.readFixed64()
                case .lengthDelimited:
                    occurrences.append(Occurrence(field: index, wireType: type, range: try reader.readLengthDelimited()))
                    continue
                case .startGroup, .endGroup:
                    throw reader.error("\(layout.fullName).\(field.name): groups have no JSON mapping")
                }
                occurrences.append(Occurrence(field: index, wireType: type, range: start..<reader.index))
            }
        } catch {
            throw JSONPrintError(reason: error.description)
        }
        // Only two oneof members on the wire can supersede one another.
        if occurrences.lazy.filter({ layout.fields[$0.field].oneofIndex != nil }).dropFirst().first != nil {
            occurrences = lastOneofMembers(layout, occurrences)
        }
        if !occurrences.isEmpty && !zip(occurrences, occurrences.dropFirst()).allSatisfy({ $0.field <= $1.field }) {
            occurrences = occurrences.enumerated().sorted { ($0.element.field, $0.offset) < ($1.element.field, $1.offset) }.map(\.element)
        }
        return occurrences
    }

    /// Of a oneof's members on the wire, the last one wins, as when parsing (protobuf.dev
    /// encoding, "Oneofs"): earlier occurrences of other members, and of the winner before them,
    /// are dropped (found by fuzzing: two members were printed, which no parser reads back).
    /// `occurrences` are in wire order.
    private func lastOneofMembers(_ layout: MessageLayout, _ occurrences: [Occurrence]) -> [Occurrence] {
        var winners: [Int: (field: Int, superseded: Bool)] = [:]
        var kept: [Occurrence] = []
        kept.reserveCapacity(occurrences.count)
        for occurrence in occurrences.reversed() {
            guard let oneof = layout.fields[occurrence.field].oneofIndex else {
                kept.append(occurrence)
                continue
            }
            guard let winner = winners[oneof] else {
                winners[oneof] = (occurrence.field, false)
                kept.append(occurrence)
                continue
            }
            if winner.field != occurrence.field {
                winners[oneof] = (winner.field, true)
            } else if !winner.superseded {
                kept.append(occurrence)
            }
        }
        return kept.reversed()
    }

    private mutating func writeKey(_ field: FieldLayout, first: inout Bool) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(contentsOf: options.useProtoNames ? field.quotedProtoKey : field.quotedJSONKey)
    }

    mutating func printRepeatedField(
        _ field: FieldLayout, _ occurrences: some Collection<Occurrence>, _ bytes: UnsafeRawBufferPointer
    ) throws(JSONPrintError) {
        out.append(UInt8(ascii: "["))
        var first = true
        // What the elements share is read once, not per element.
        let kind = field.kind
        if case .message(let nested) = kind {
            for occurrence in occurrences {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                try printMessage(nested, bytes, occurrence.range)
            }
            out.append(UInt8(ascii: "]"))
            return
        }
        let isPackable = kind.isPackable
        let elementWireType = kind.wireType
        for occurrence in occurrences {
            var reader = WireReader(bytes, range: occurrence.range)
            // A packed run (length-delimited) holds many values; otherwise one value.
            let packed = occurrence.wireType == .lengthDelimited && isPackable
            repeat {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                try printScalar(kind, &reader, wireType: packed ? elementWireType : occurrence.wireType)
            } while packed && !reader.isAtEnd
        }
        out.append(UInt8(ascii: "]"))
    }

    mutating func printMapField(
        _ field: FieldLayout, _ occurrences: some Collection<Occurrence>, _ bytes: UnsafeRawBufferPointer
    ) throws(JSONPrintError) {
        guard case .message(let entry) = field.kind, let keyField = entry.field(number: 1), let valueField = entry.field(number: 2) else {
            throw JSONPrintError(reason: "\(field.name): a map entry needs fields 1 and 2")
        }
        out.append(UInt8(ascii: "{"))
        var first = true
        for occurrence in occurrences {
            let parts = try collect(entry, bytes, occurrence.range)
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            // Map keys are JSON strings whatever their type; a missing key or value is its default.
            let key = parts.last { entry.fields[$0.field].number == 1 }
            out.append(UInt8(ascii: "\""))
            if let key {
                var reader = WireReader(bytes, range: key.range)
                try printScalar(keyField.kind, &reader, wireType: key.wireType, quoted: false)
            } else if case .bool = keyField.kind {
                out.append(contentsOf: "false")
            } else if case .string = keyField.kind {
            } else {
                out.append(UInt8(ascii: "0"))
            }
            out.append(contentsOf: "\":")
            let values = parts.filter { entry.fields[$0.field].number == 2 }
            if values.isEmpty {
                try printDefault(valueField.kind)
            } else if case .message(let nested) = valueField.kind {
                try printSingularMessage(nested, values[...], bytes)
            } else {
                var reader = WireReader(bytes, range: values[values.count - 1].range)
                try printScalar(valueField.kind, &reader, wireType: values[values.count - 1].wireType)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A singular message field that came several times is their merge: the concatenation of
    /// the occurrences' bytes (protobuf.dev encoding, "Last one wins" for messages means merge).
    private mutating func printSingularMessage(
        _ layout: MessageLayout, _ occurrences: ArraySlice<Occurrence>, _ bytes: UnsafeRawBufferPointer
    ) throws(JSONPrintError) {
        try withMerged(occurrences, bytes) { (printer: inout ProtoJSONPrinter, merged, range) throws(JSONPrintError) in
            try printer.printMessage(layout, merged, range)
        }
    }

    /// Calls `body` with the bytes of one occurrence, or of the merge of several.
    private mutating func withMerged(
        _ occurrences: ArraySlice<Occurrence>, _ bytes: UnsafeRawBufferPointer,
        _ body: (inout ProtoJSONPrinter, UnsafeRawBufferPointer, Range<Int>) throws(JSONPrintError) -> Void
    ) throws(JSONPrintError) {
        if occurrences.count <= 1 {
            try body(&self, bytes, occurrences.first?.range ?? 0..<0)
            return
        }
        var merged: [UInt8] = []
        for occurrence in occurrences { merged.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[occurrence.range])) }
        try withTypedUnsafeBytes(merged) { mergedBytes throws(JSONPrintError) in
            try body(&self, mergedBytes, 0..<mergedBytes.count)
        }
    }

    private func isDefault(_ kind: FieldKind, _ bytes: UnsafeRawBufferPointer, _ occurrence: Occurrence) -> Bool {
        switch occurrence.wireType {
        case .lengthDelimited: return occurrence.range.isEmpty
        case .varint:
            // By value, not by encoding: a zero may be encoded in more than one byte, and a
            // 32-bit field keeps only the low 32 bits of its varint (found by fuzzing).
            var reader = WireReader(bytes, range: occurrence.range)
            guard let value = try? reader.readVarint() else { return false }
            switch kind {
            case .int32, .uint32, .sint32, .enumeration: return UInt32(truncatingIfNeeded: value) == 0
            default: return value == 0
            }
        case .fixed32, .fixed64:
            // -0.0 is not the default (its sign bit is set): json_format prints it.
            return occurrence.range.allSatisfy { bytes[$0] == 0 }
        case .startGroup, .endGroup: return false
        }
    }

    mutating func printDefault(_ kind: FieldKind) throws(JSONPrintError) {
        switch kind {
        case .message(let layout):
            // A map value of message type that is missing prints as the empty message.
            try printMessage(layout, UnsafeRawBufferPointer(start: nil, count: 0), 0..<0)
        case .string, .bytes: out.append(contentsOf: "\"\"")
        case .bool: out.append(contentsOf: "false")
        case .int64, .uint64, .fixed64, .sfixed64, .sint64: out.append(contentsOf: "\"0\"")
        // As a zero that is present prints (printScalar), so that the output is canonical.
        case .double, .float: out.append(contentsOf: "0.0")
        case .enumeration(let layout):
            // Integers first, even for NullValue, as json_format does.
            if options.enumsAsIntegers {
                out.append(UInt8(ascii: "0"))
            } else if layout.isNullValue {
                out.append(contentsOf: "null")
            } else {
                appendQuoted(layout.namesByNumber[0] ?? "0")
            }
        default: out.append(UInt8(ascii: "0"))
        }
    }

    /// One scalar value at the reader; 64-bit integers are JSON strings unless `quoted` is
    /// false (map keys, which are already inside quotes).
    mutating func printScalar(_ kind: FieldKind, _ reader: inout WireReader, wireType: WireType, quoted: Bool = true) throws(JSONPrintError)
    {
        if case .string = kind {
            let range = reader.index..<reader.end
            reader.index = reader.end
            if quoted { out.append(UInt8(ascii: "\"")) }
            try appendStringContents(reader.bytes, range, field: "string")
            if quoted { out.append(UInt8(ascii: "\"")) }
            return
        }
        do throws(WireFormatError) {
            switch kind {
            case .int32: appendNumber(Int32(truncatingIfNeeded: try reader.readVarint()))
            case .uint32: appendNumber(UInt32(truncatingIfNeeded: try reader.readVarint()))
            case .sint32: appendNumber(zigZagDecode32(try reader.readVarint()))
            case .fixed32: appendNumber(try reader.readFixed32())
            case .sfixed32: appendNumber(Int32(bitPattern: try reader.readFixed32()))
            case .int64: appendNumber(Int64(bitPattern: try reader.readVarint()), quoted: quoted)
            case .uint64: appendNumber(try reader.readVarint(), quoted: quoted)
            case .sint64: appendNumber(zigZagDecode64(try reader.readVarint()), quoted: quoted)
            case .fixed64: appendNumber(try reader.readFixed64(), quoted: quoted)
            case .sfixed64: appendNumber(Int64(bitPattern: try reader.readFixed64()), quoted: quoted)
            case .bool: out.append(contentsOf: try reader.readVarint() != 0 ? "true" as StaticString : "false")
            case .double: appendFloatingPoint(Double(bitPattern: try reader.readFixed64()))
            case .float: appendFloatingPoint(Float(bitPattern: try reader.readFixed32()))
            case .enumeration(let layout):
                let number = Int32(truncatingIfNeeded: try reader.readVarint())
                // Only NULL_VALUE (0) is null: json_format prints any number of a NullValue as
                // null, which reads back as 0 and loses the number (found by fuzzing); another
                // number prints as itself, as an unknown enum number does.
                if layout.isNullValue && number == 0 && !options.enumsAsIntegers {
                    out.append(contentsOf: "null")
                } else if let name = layout.namesByNumber[number], !options.enumsAsIntegers {
                    appendQuoted(name)
                } else {
                    appendNumber(number)
                }
            case .string:
                break  // below: its errors are not wire-format errors
            case .bytes:
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: Base64.encode(UnsafeRawBufferPointer(rebasing: reader.bytes[reader.index..<reader.end])))
                out.append(UInt8(ascii: "\""))
                reader.index = reader.end
            case .message:
                throw reader.error("a message is not a scalar")
            }
        } catch {
            throw JSONPrintError(reason: error.description)
        }
    }

    private mutating func appendNumber<Number: BinaryInteger>(_ value: Number, quoted: Bool = false) {
        if quoted { out.append(UInt8(ascii: "\"")) }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        if magnitude < 10 {
            out.append(UInt8(ascii: "0") + UInt8(magnitude))
        } else {
            // Digits written backwards into a stack buffer (20 digits hold any UInt64), then copied once.
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
            withUnsafeMutableBytes(of: &digits) { buffer in
                var start = buffer.count
                while magnitude > 0 {
                    start -= 1
                    buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                    magnitude /= 10
                }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
            }
        }
        if quoted { out.append(UInt8(ascii: "\"")) }
    }

    /// Shortest text that reads back to the same value; NaN and the infinities as the strings
    /// the JSON mapping names.
    private mutating func appendFloatingPoint<Value: BinaryFloatingPoint & CustomStringConvertible>(_ value: Value) {
        if value.isNaN {
            out.append(contentsOf: "\"NaN\"")
        } else if value.isInfinite {
            out.append(contentsOf: value < 0 ? "\"-Infinity\"" as StaticString : "\"Infinity\"")
        } else {
            out.append(contentsOf: value.description)
        }
    }

    mutating func appendQuoted(_ text: String) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { _ = appendEscaped($0) }
        out.append(UInt8(ascii: "\""))
    }

    /// A proto string's bytes as JSON string contents; proto3 strings must be UTF-8.
    mutating func appendStringContents(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, field: String) throws(JSONPrintError) {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[range]).assumingMemoryBound(to: UInt8.self)
        let start = out.count
        // ASCII is valid UTF-8: only other text pays for a full check.
        if !appendEscaped(slice) && validatedUTF8String(slice) == nil {
            out.removeSubrange(from: start)
            throw JSONPrintError(reason: "field \(field) holds invalid UTF-8")
        }
    }

    /// JSON string escaping (RFC 8259 §7): quote, backslash and control characters. The bytes
    /// are read eight at a time; a word with nothing to escape and nothing above ASCII is
    /// skipped whole, and runs of such bytes are copied at once. Returns whether all were ASCII.
    private mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var isASCII = true
        var runStart = 0
        var index = 0
        while index < bytes.count {
            let length = min(8, bytes.count - index)
            var word = SWAR.filler
            if length == 8 {
                word = UnsafeRawPointer(base).loadUnaligned(fromByteOffset: index, as: UInt64.self)
            } else {
                withUnsafeMutableBytes(of: &word) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + index, count: length)) }
            }
            guard SWAR.needsAttention(word) else {
                index += length
                continue
            }
            for position in index..<index + length {
                let byte = bytes[position]
                if byte >= 0x80 {
                    isASCII = false
                    continue
                }
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
                runStart = position + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"")
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\")
                case 0x0A: out.append(contentsOf: "\\n")
                case 0x0D: out.append(contentsOf: "\\r")
                case 0x09: out.append(contentsOf: "\\t")
                case 0x08: out.append(contentsOf: "\\b")
                case 0x0C: out.append(contentsOf: "\\f")
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: "\\u00")
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
            index += length
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        return isASCII
    }
}

/// Byte tests on eight bytes at once ("SIMD within a register").
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Bytes that need no attention, to fill a short word: 'A'.
    static let filler: UInt64 = 0x41 &* ones

    /// Whether some byte is a control character (< 0x20), '"' or '\\' (the bytes JSON
    /// escapes), or not ASCII.
    @inline(__always)
    static func needsAttention(_ word: UInt64) -> Bool {
        attentionFlags(word) != 0
    }

    /// The high bit set in each byte that needs attention. Only the lowest flag is exact (a
    /// borrow can flag bytes above a real hit), which is all a scanner needs: the first byte
    /// to look at is at `flags.trailingZeroBitCount / 8`.
    @inline(__always)
    static func attentionFlags(_ word: UInt64) -> UInt64 {
        let belowSpace = (word &- 0x20 &* ones) & ~word
        let quote = word ^ (0x22 &* ones)
        let backslash = word ^ (0x5C &* ones)
        return (word | belowSpace | ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highBits
    }
}
