// JSON Schemas (OpenAPI 3.1, JSON Schema 2020-12) of messages as the proto3 JSON mapping writes
// them (protobuf.dev/programming-guides/json): lowerCamel names, 64-bit integers as strings,
// enums by name, bytes as base64, and each well-known type in its own JSON form. Messages and
// enums become components referred to by name; the builder collects those it has referred to.
import SwiftProtobuf
import Transcode

struct OpenAPISchemas {
    let pool: DescriptorPool
    /// Components referred to so far, in the order first seen; `build` fills in their schemas.
    private(set) var referenced: [String] = []
    private var seen: Set<String> = []

    init(pool: DescriptorPool) {
        self.pool = pool
    }

    static let statusName = "google.rpc.Status"

    /// The schema of a message named `typeName` (no leading dot): a well-known type's own form,
    /// else a reference to its component.
    mutating func message(_ typeName: String) -> OrderedJSON {
        if let known = Self.wellKnown[typeName] { return known }
        return reference(typeName)
    }

    /// The schema of one field's value, repeated and maps included.
    mutating func field(_ field: Google_Protobuf_FieldDescriptorProto) -> OrderedJSON {
        if pool.isMap(field), let value = pool.message(named: field.typeName)?.field.first(where: { $0.number == 2 }) {
            return .object([("type", .string("object")), ("additionalProperties", single(value))])
        }
        let item = single(field)
        return field.label == .repeated ? .object([("type", .string("array")), ("items", item)]) : item
    }

    /// The schema of a field's value, ignoring its label.
    mutating func single(_ field: Google_Protobuf_FieldDescriptorProto) -> OrderedJSON {
        switch field.type {
        case .double: .object([("type", .string("number")), ("format", .string("double"))])
        case .float: .object([("type", .string("number")), ("format", .string("float"))])
        case .int64, .sint64, .sfixed64: .object([("type", .string("string")), ("format", .string("int64"))])
        case .uint64, .fixed64: .object([("type", .string("string")), ("format", .string("uint64"))])
        case .int32, .sint32, .sfixed32: .object([("type", .string("integer")), ("format", .string("int32"))])
        case .uint32, .fixed32:
            .object([("type", .string("integer")), ("minimum", .number(0)), ("maximum", .number(4_294_967_295))])
        case .bool: .object([("type", .string("boolean"))])
        case .string: .object([("type", .string("string"))])
        case .bytes: .object([("type", .string("string")), ("format", .string("byte"))])
        case .enum:
            String(field.typeName.dropFirst()) == "google.protobuf.NullValue"
                ? .object([("type", .string("null"))]) : reference(String(field.typeName.dropFirst()))
        case .message, .group: message(String(field.typeName.dropFirst()))
        }
    }

    private mutating func reference(_ name: String) -> OrderedJSON {
        if seen.insert(name).inserted { referenced.append(name) }
        return .object([("$ref", .string("#/components/schemas/\(name)"))])
    }

    /// The component of `name`: a message's object schema or an enum's names.
    mutating func component(_ name: String) -> OrderedJSON {
        if name == Self.statusName && pool.message(named: name) == nil { return Self.status }
        if let enumType = pool.enums[name] {
            return Self.described(
                .object([("type", .string("string")), ("enum", .array(enumType.value.map { .string($0.name) }))]), pool.comments[name])
        }
        guard let message = pool.message(named: name) else { return .object([("type", .string("object"))]) }
        var properties: [(String, OrderedJSON)] = []
        for field in message.field {
            properties.append(
                (
                    DescriptorPool.jsonName(of: field),
                    Self.described(self.field(field), pool.comments[name + "." + field.name])
                ))
        }
        return Self.described(.object([("type", .string("object")), ("properties", .object(properties))]), pool.comments[name])
    }

    /// `schema` with a `description` (beside a `$ref` too: OpenAPI 3.1 allows it).
    static func described(_ schema: OrderedJSON, _ text: String?) -> OrderedJSON {
        guard let text, case .object(var members) = schema else { return schema }
        members.append(("description", .string(text)))
        return .object(members)
    }

    /// google.rpc.Status, the body of every error (when the descriptor set does not have it).
    static let status = OrderedJSON.object([
        ("type", .string("object")),
        (
            "properties",
            .object([
                ("code", .object([("type", .string("integer")), ("format", .string("int32"))])),
                ("message", .object([("type", .string("string"))])),
                ("details", .object([("type", .string("array")), ("items", anySchema)])),
            ])
        ),
    ])

    private static let anySchema = OrderedJSON.object([
        ("type", .string("object")),
        ("properties", .object([("@type", .object([("type", .string("string"))]))])),
        ("required", .array([.string("@type")])),
        ("additionalProperties", .bool(true)),
    ])

    private static func nullable(_ type: String, format: String? = nil) -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("type", .array([.string(type), .string("null")]))]
        if let format { members.append(("format", .string(format))) }
        return .object(members)
    }

    /// The well-known types' JSON forms (protobuf.dev, "JSON Mapping").
    static let wellKnown: [String: OrderedJSON] = [
        "google.protobuf.Timestamp": .object([("type", .string("string")), ("format", .string("date-time"))]),
        "google.protobuf.Duration": .object([
            ("type", .string("string")), ("pattern", .string("^-?[0-9]+(\\.[0-9]{1,9})?s$")),
        ]),
        "google.protobuf.FieldMask": .object([("type", .string("string"))]),
        "google.protobuf.Struct": .object([("type", .string("object")), ("additionalProperties", .bool(true))]),
        "google.protobuf.Value": .object([]),
        "google.protobuf.ListValue": .object([("type", .string("array")), ("items", .object([]))]),
        "google.protobuf.Empty": .object([("type", .string("object"))]),
        "google.protobuf.Any": anySchema,
        "google.protobuf.DoubleValue": nullable("number", format: "double"),
        "google.protobuf.FloatValue": nullable("number", format: "float"),
        "google.protobuf.Int64Value": nullable("string", format: "int64"),
        "google.protobuf.UInt64Value": nullable("string", format: "uint64"),
        "google.protobuf.Int32Value": nullable("integer", format: "int32"),
        "google.protobuf.UInt32Value": nullable("integer"),
        "google.protobuf.BoolValue": nullable("boolean"),
        "google.protobuf.StringValue": nullable("string"),
        "google.protobuf.BytesValue": nullable("string", format: "byte"),
    ]
}
