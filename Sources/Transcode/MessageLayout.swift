// Descriptors compiled for transcoding: each message's fields by number and by JSON name, the
// quoted keys ready to write, map entries and oneofs resolved. Built once when the catalog
// loads; the printer and parser only look things up.
import Glibc
import SwiftProtobuf

/// The well-known types with a special JSON form (protobuf.dev/programming-guides/json).
enum WellKnownType: String {
    case any = "google.protobuf.Any"
    case timestamp = "google.protobuf.Timestamp"
    case duration = "google.protobuf.Duration"
    case fieldMask = "google.protobuf.FieldMask"
    case structValue = "google.protobuf.Struct"
    case value = "google.protobuf.Value"
    case listValue = "google.protobuf.ListValue"
    case empty = "google.protobuf.Empty"
    case doubleValue = "google.protobuf.DoubleValue"
    case floatValue = "google.protobuf.FloatValue"
    case int64Value = "google.protobuf.Int64Value"
    case uint64Value = "google.protobuf.UInt64Value"
    case int32Value = "google.protobuf.Int32Value"
    case uint32Value = "google.protobuf.UInt32Value"
    case boolValue = "google.protobuf.BoolValue"
    case stringValue = "google.protobuf.StringValue"
    case bytesValue = "google.protobuf.BytesValue"

    /// Written under `"value"` inside an Any (protobuf.dev/programming-guides/json): every
    /// well-known type but Empty, whose JSON form is an ordinary object, inlined like any message.
    var isWrappedInAny: Bool { self != .empty }

    /// Wrappers are written as their `value` field alone.
    var isWrapper: Bool {
        switch self {
        case .doubleValue, .floatValue, .int64Value, .uint64Value, .int32Value, .uint32Value,
            .boolValue, .stringValue, .bytesValue:
            true
        default: false
        }
    }
}

enum FieldKind: CustomStringConvertible {
    case double, float, int64, uint64, int32, fixed64, fixed32, bool, string, bytes, uint32
    case sfixed32, sfixed64, sint32, sint64
    case enumeration(EnumLayout)
    case message(MessageLayout)

    /// Packed encoding applies to repeated fields of these kinds (proto3 packs by default).
    var isPackable: Bool {
        switch self {
        case .string, .bytes, .message: false
        default: true
        }
    }

    var description: String {
        switch self {
        case .enumeration(let layout): "enum \(layout.fullName)"
        case .message(let layout): layout.fullName
        case .double: "double"
        case .float: "float"
        case .int64: "int64"
        case .uint64: "uint64"
        case .int32: "int32"
        case .fixed64: "fixed64"
        case .fixed32: "fixed32"
        case .bool: "bool"
        case .string: "string"
        case .bytes: "bytes"
        case .uint32: "uint32"
        case .sfixed32: "sfixed32"
        case .sfixed64: "sfixed64"
        case .sint32: "sint32"
        case .sint64: "sint64"
        }
    }

    var wireType: WireType {
        switch self {
        case .double, .fixed64, .sfixed64: .fixed64
        case .float, .fixed32, .sfixed32: .fixed32
        case .string, .bytes, .message: .lengthDelimited
        default: .varint
        }
    }
}

/// A class, not a struct: the printer and parser pass fields around constantly, and a class
/// reference costs one retain where a struct of strings and arrays costs one per member.
final class FieldLayout: @unchecked Sendable {
    let number: Int32
    /// The .proto name, and the JSON name (lowerCamelCase unless `json_name` says otherwise).
    let name: String
    let jsonName: String
    /// `"jsonName":` and `"name":`, ready to append.
    let quotedJSONKey: [UInt8]
    let quotedProtoKey: [UInt8]
    let kind: FieldKind
    let isRepeated: Bool
    let isMap: Bool
    /// Whether a default value is still "set": message fields, oneof members, proto3 `optional`.
    let hasPresence: Bool
    /// The real oneof the field belongs to (not the synthetic one of proto3 `optional`).
    let oneofIndex: Int?

    init(
        number: Int32, name: String, jsonName: String, kind: FieldKind, isRepeated: Bool, isMap: Bool,
        hasPresence: Bool, oneofIndex: Int?
    ) {
        self.number = number
        self.name = name
        self.jsonName = jsonName
        quotedJSONKey = [UInt8(ascii: "\"")] + Array(jsonName.utf8) + Array("\":".utf8)
        quotedProtoKey = [UInt8(ascii: "\"")] + Array(name.utf8) + Array("\":".utf8)
        self.kind = kind
        self.isRepeated = isRepeated
        self.isMap = isMap
        self.hasPresence = hasPresence
        self.oneofIndex = oneofIndex
    }
}

final class EnumLayout: @unchecked Sendable {
    let fullName: String
    let namesByNumber: [Int32: String]
    let numbersByName: [String: Int32]

    init(_ descriptor: Google_Protobuf_EnumDescriptorProto, fullName: String) {
        self.fullName = fullName
        var names: [Int32: String] = [:]
        var numbers: [String: Int32] = [:]
        for value in descriptor.value {
            if names[value.number] == nil { names[value.number] = value.name }  // aliases: first name wins
            numbers[value.name] = value.number
        }
        namesByNumber = names
        numbersByName = numbers
    }

    var isNullValue: Bool { fullName == "google.protobuf.NullValue" }
}

/// A message type ready for transcoding. Immutable once `MessageLayouts` has built it (the
/// fields are filled after creation only so that recursive types can refer to themselves), and
/// valid while that set lives: it empties its layouts when it goes.
final class MessageLayout: @unchecked Sendable {
    let fullName: String
    let wellKnown: WellKnownType?
    let isMapEntry: Bool
    fileprivate(set) var fields: [FieldLayout] = []
    /// Field index by number for numbers below `directLimit` (-1: none), so that the common
    /// lookup is one load; larger numbers go through the dictionary.
    fileprivate(set) var directIndex: [Int] = []
    fileprivate(set) var indexByNumber: [Int32: Int] = [:]
    static let directLimit: Int32 = 512
    /// Both the JSON name and the .proto name of every field (parsers accept either).
    fileprivate(set) var indexByJSONName: [String: Int] = [:]
    /// The same names as raw bytes, for the parser: found by hash without making a String.
    fileprivate(set) var keyTable = KeyTable()
    fileprivate(set) var oneofNames: [String] = []

    init(fullName: String, isMapEntry: Bool) {
        self.fullName = fullName
        wellKnown = WellKnownType(rawValue: fullName)
        self.isMapEntry = isMapEntry
    }

    /// The field named `key` (JSON or .proto name), by its UTF-8 bytes.
    func index(forKey key: UnsafeRawBufferPointer) -> Int? {
        keyTable.index(forKey: key)
    }

    func index(number: Int32) -> Int? {
        if number >= 0 && number < directIndex.count {
            let index = directIndex[Int(number)]
            return index < 0 ? nil : index
        }
        return indexByNumber[number]
    }

    func field(number: Int32) -> FieldLayout? {
        index(number: number).map { fields[$0] }
    }
}

/// The layouts of every message of a pool, built when the pool is loaded and read-only after:
/// shared by all workers without locks.
final class MessageLayouts: @unchecked Sendable {
    private let pool: DescriptorPool
    private var messages: [String: MessageLayout] = [:]
    private var enums: [String: EnumLayout] = [:]

    init(pool: DescriptorPool) throws(DescriptorError) {
        self.pool = pool
        for name in pool.messages.keys.sorted() { _ = try build(name) }
    }

    /// Recursive types refer to each other through their fields (Struct, Value and ListValue; a
    /// message with a field of its own type): the cycles are broken when the set goes, or each
    /// config reload would leak the last set's layouts (found by AddressSanitizer). Whatever uses
    /// a layout holds this set too (through the transcoder), so none is in use by then.
    deinit {
        for layout in messages.values { layout.fields = [] }
    }

    /// The layout of `fullName` (no leading dot), or an error naming the missing type.
    func layout(for fullName: String) throws(DescriptorError) -> MessageLayout {
        guard let layout = messages[fullName] else { throw DescriptorError("message '\(fullName)' is not in the descriptor set") }
        return layout
    }

    private func build(_ fullName: String) throws(DescriptorError) -> MessageLayout {
        if let layout = messages[fullName] { return layout }
        guard let descriptor = pool.message(named: fullName) else {
            throw DescriptorError("message '\(fullName)' is not in the descriptor set")
        }
        let layout = MessageLayout(fullName: fullName, isMapEntry: descriptor.options.mapEntry)
        messages[fullName] = layout
        layout.oneofNames = descriptor.oneofDecl.map(\.name)
        for field in descriptor.field {
            let kind = try self.kind(of: field, in: fullName)
            let isMap: Bool
            if case .message(let entry) = kind, field.label == .repeated, entry.isMapEntry { isMap = true } else { isMap = false }
            let jsonName = DescriptorPool.jsonName(of: field)
            let isRealOneof = field.hasOneofIndex && !field.proto3Optional
            let layoutField = FieldLayout(
                number: field.number, name: field.name, jsonName: jsonName, kind: kind,
                isRepeated: field.label == .repeated, isMap: isMap,
                hasPresence: field.label != .repeated && (field.type == .message || field.hasOneofIndex || field.label == .required),
                oneofIndex: isRealOneof ? Int(field.oneofIndex) : nil)
            layout.indexByNumber[field.number] = layout.fields.count
            if field.number < MessageLayout.directLimit {
                if layout.directIndex.count <= Int(field.number) {
                    layout.directIndex += [Int](repeating: -1, count: Int(field.number) + 1 - layout.directIndex.count)
                }
                layout.directIndex[Int(field.number)] = layout.fields.count
            }
            layout.indexByJSONName[jsonName] = layout.fields.count
            layout.indexByJSONName[field.name] = layout.fields.count
            layout.fields.append(layoutField)
        }
        layout.keyTable = KeyTable(layout.indexByJSONName)
        return layout
    }

    private func kind(of field: Google_Protobuf_FieldDescriptorProto, in message: String) throws(DescriptorError) -> FieldKind {
        switch field.type {
        case .double: return .double
        case .float: return .float
        case .int64: return .int64
        case .uint64: return .uint64
        case .int32: return .int32
        case .fixed64: return .fixed64
        case .fixed32: return .fixed32
        case .bool: return .bool
        case .string: return .string
        case .bytes: return .bytes
        case .uint32: return .uint32
        case .sfixed32: return .sfixed32
        case .sfixed64: return .sfixed64
        case .sint32: return .sint32
        case .sint64: return .sint64
        case .enum:
            let name = String(field.typeName.dropFirst())
            if let known = enums[name] { return .enumeration(known) }
            guard let descriptor = pool.enums[name] else {
                throw DescriptorError("enum '\(name)' of \(message).\(field.name) is not in the descriptor set")
            }
            let layout = EnumLayout(descriptor, fullName: name)
            enums[name] = layout
            return .enumeration(layout)
        case .message:
            return .message(try build(String(field.typeName.dropFirst())))
        default:
            throw DescriptorError("\(message).\(field.name): groups have no JSON mapping")
        }
    }
}

/// protoc's default JSON name: underscores dropped, the letter after each capitalised.
func lowerCamelCase(_ name: String) -> String {
    var result = ""
    var upperNext = false
    for character in name {
        if character == "_" {
            upperNext = true
        } else if upperNext {
            result += character.uppercased()
            upperNext = false
        } else {
            result.append(character)
        }
    }
    return result
}

/// Names to field indexes, looked up by UTF-8 bytes: open addressing over FNV-1a hashes, every
/// name's bytes in one array, so that a lookup hashes the key once and compares bytes once,
/// with no String made and no reference counted.
struct KeyTable {
    private struct Slot {
        var hash: UInt64 = 0
        var fieldIndex = -1
        var start = 0
        var count = 0
    }

    private var slots: [Slot] = [Slot()]
    private var names: [UInt8] = []

    init() {}

    init(_ indexes: [String: Int]) {
        var size = 1
        while size < 2 * indexes.count { size *= 2 }
        slots = [Slot](repeating: Slot(), count: size)
        for (name, fieldIndex) in indexes.sorted(by: { $0.key < $1.key }) {
            let bytes = Array(name.utf8)
            let hash = bytes.withUnsafeBytes(KeyTable.hash)
            var position = Int(truncatingIfNeeded: hash) & (size - 1)
            while slots[position].fieldIndex >= 0 { position = (position + 1) & (size - 1) }
            slots[position] = Slot(hash: hash, fieldIndex: fieldIndex, start: names.count, count: bytes.count)
            names += bytes
        }
    }

    func index(forKey key: UnsafeRawBufferPointer) -> Int? {
        let hash = KeyTable.hash(key)
        let mask = slots.count - 1
        var position = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            names.withUnsafeBytes { names in
                while slots[position].fieldIndex >= 0 {
                    let slot = slots[position]
                    if slot.hash == hash, slot.count == key.count,
                        key.count == 0 || memcmp(names.baseAddress! + slot.start, key.baseAddress!, key.count) == 0
                    {
                        return slot.fieldIndex
                    }
                    position = (position + 1) & mask
                }
                return nil
            }
        }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
