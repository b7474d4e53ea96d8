// A request message as JSON with every field at its zero value, for a person to fill in (the
// console's editor): proto3 JSON names and forms, nested messages spelled out two levels deep
// (deeper, and recursive types, as `{}`), repeated fields and maps empty.
import SwiftProtobuf
import Transcode

public enum RequestTemplate {
    /// The template of `typeName` (no leading dot), as indented JSON text.
    public static func json(for typeName: String, pool: DescriptorPool) -> String {
        var chain: [String] = []
        return value(of: typeName, pool: pool, chain: &chain).serialized().dropLast().description
    }

    private static func value(of typeName: String, pool: DescriptorPool, chain: inout [String]) -> OrderedJSON {
        if let known = wellKnown[typeName] { return known }
        guard let message = pool.message(named: typeName), chain.count < 3, !chain.contains(typeName) else { return .object([]) }
        chain.append(typeName)
        defer { chain.removeLast() }
        var members: [(String, OrderedJSON)] = []
        for field in message.field where !(field.hasOneofIndex && !field.proto3Optional) || isFirstOfOneof(field, in: message) {
            let name = DescriptorPool.jsonName(of: field)
            if pool.isMap(field) {
                members.append((name, .object([])))
            } else if field.label == .repeated {
                members.append((name, .array([])))
            } else {
                members.append((name, zero(field, pool: pool, chain: &chain)))
            }
        }
        return .object(members)
    }

    /// Only the first member of a oneof: setting two is an error.
    private static func isFirstOfOneof(_ field: Google_Protobuf_FieldDescriptorProto, in message: Google_Protobuf_DescriptorProto) -> Bool {
        message.field.first { $0.hasOneofIndex && !$0.proto3Optional && $0.oneofIndex == field.oneofIndex }?.number == field.number
    }

    private static func zero(_ field: Google_Protobuf_FieldDescriptorProto, pool: DescriptorPool, chain: inout [String]) -> OrderedJSON {
        switch field.type {
        case .double, .float, .int32, .sint32, .sfixed32, .uint32, .fixed32: .number(0)
        case .int64, .sint64, .sfixed64, .uint64, .fixed64: .string("0")
        case .bool: .bool(false)
        case .string, .bytes: .string("")
        case .enum: .string(pool.enums[String(field.typeName.dropFirst())]?.value.first?.name ?? "")
        case .message, .group: value(of: String(field.typeName.dropFirst()), pool: pool, chain: &chain)
        }
    }

    private static let wellKnown: [String: OrderedJSON] = [
        "google.protobuf.Timestamp": .string("1970-01-01T00:00:00Z"),
        "google.protobuf.Duration": .string("0s"),
        "google.protobuf.FieldMask": .string(""),
        "google.protobuf.Struct": .object([]),
        "google.protobuf.Value": .object([]),
        "google.protobuf.ListValue": .array([]),
        "google.protobuf.Empty": .object([]),
        "google.protobuf.Any": .object([("@type", .string(""))]),
        "google.protobuf.DoubleValue": .number(0), "google.protobuf.FloatValue": .number(0),
        "google.protobuf.Int64Value": .string("0"), "google.protobuf.UInt64Value": .string("0"),
        "google.protobuf.Int32Value": .number(0), "google.protobuf.UInt32Value": .number(0),
        "google.protobuf.BoolValue": .bool(false), "google.protobuf.StringValue": .string(""),
        "google.protobuf.BytesValue": .string(""),
    ]
}
