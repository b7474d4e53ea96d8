// The messages, enums and services of a descriptor set (`protoc --include_imports
// --descriptor_set_out`), indexed by fully-qualified name: what the transcoder reads at run
// time instead of generated code, so that any service can be exposed from config.
import FerryCore
import GoogleAPI
import SwiftProtobuf

/// Why a descriptor set or the services asked of it cannot be used.
public struct DescriptorError: Error, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

public struct DescriptorPool: Sendable {
    /// Messages by fully-qualified name without the leading dot (`node.v1.Node`).
    public private(set) var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    public private(set) var enums: [String: Google_Protobuf_EnumDescriptorProto] = [:]
    public private(set) var services: [String: Google_Protobuf_ServiceDescriptorProto] = [:]
    /// The package each service was declared in (its methods' types are named absolutely).
    public private(set) var servicePackages: [String: String] = [:]
    /// The .proto comments of messages, enums, services (full names), fields and methods
    /// (`message.field`, `service.Method`), when the set carries source info
    /// (`protoc --include_source_info`).
    public private(set) var comments: [String: String] = [:]

    /// Decodes a serialized FileDescriptorSet, with the google.api.http option understood.
    public init(serializedDescriptorSet bytes: [UInt8]) throws(DescriptorError) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes, extensions: Google_Api_Annotations_Extensions)
        } catch {
            throw DescriptorError("not a FileDescriptorSet: \(error)")
        }
        self.init(files: set.file)
    }

    public init(files: [Google_Protobuf_FileDescriptorProto]) {
        for file in files {
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for message in file.messageType { index(message, prefix: prefix) }
            for enumType in file.enumType { enums[prefix + enumType.name] = enumType }
            for service in file.service {
                services[prefix + service.name] = service
                servicePackages[prefix + service.name] = file.package
            }
            indexComments(file, prefix: prefix)
        }
    }

    /// SourceCodeInfo locations (descriptor.proto): a path of field numbers and indexes from the
    /// file down to the element — 4 message_type, 5 enum_type, 6 service; in a message 2 field,
    /// 3 nested_type, 4 enum_type; in a service 2 method.
    private mutating func indexComments(_ file: Google_Protobuf_FileDescriptorProto, prefix: String) {
        for location in file.sourceCodeInfo.location {
            let text = [location.leadingComments, location.trailingComments]
                .map { $0.split(separator: "\n").map { $0.trimmingOWS() }.joined(separator: "\n") }
                .filter { !$0.isEmpty }.joined(separator: "\n")
            guard !text.isEmpty, let name = Self.elementName(location.path[...], in: file, prefix: prefix) else { continue }
            comments[name] = text
        }
    }

    private static func elementName(_ path: ArraySlice<Int32>, in file: Google_Protobuf_FileDescriptorProto, prefix: String) -> String? {
        guard path.count >= 2, path[path.startIndex + 1] >= 0 else { return nil }
        let kind = path[path.startIndex]
        let index = Int(path[path.startIndex + 1])
        let rest = path.dropFirst(2)
        switch kind {
        case 4 where index < file.messageType.count:
            return messageElementName(rest, in: file.messageType[index], name: prefix + file.messageType[index].name)
        case 5 where index < file.enumType.count && rest.isEmpty:
            return prefix + file.enumType[index].name
        case 6 where index < file.service.count:
            let service = file.service[index]
            if rest.isEmpty { return prefix + service.name }
            guard rest.count == 2, rest.first == 2, Int(rest.last!) < service.method.count else { return nil }
            return prefix + service.name + "." + service.method[Int(rest.last!)].name
        default:
            return nil
        }
    }

    private static func messageElementName(_ path: ArraySlice<Int32>, in message: Google_Protobuf_DescriptorProto, name: String) -> String?
    {
        guard let kind = path.first else { return name }
        guard path.count >= 2 else { return nil }
        let index = Int(path[path.startIndex + 1])
        let rest = path.dropFirst(2)
        switch kind {
        case 2 where index < message.field.count && rest.isEmpty: return name + "." + message.field[index].name
        case 3 where index < message.nestedType.count:
            return messageElementName(rest, in: message.nestedType[index], name: name + "." + message.nestedType[index].name)
        case 4 where index < message.enumType.count && rest.isEmpty: return name + "." + message.enumType[index].name
        default: return nil
        }
    }

    private mutating func index(_ message: Google_Protobuf_DescriptorProto, prefix: String) {
        let name = prefix + message.name
        messages[name] = message
        for nested in message.nestedType { index(nested, prefix: name + ".") }
        for enumType in message.enumType { enums[name + "." + enumType.name] = enumType }
    }

    /// A field's name in proto3 JSON: its `json_name`, else protoc's default.
    public static func jsonName(of field: Google_Protobuf_FieldDescriptorProto) -> String {
        field.hasJsonName ? field.jsonName : lowerCamelCase(field.name)
    }

    /// Whether `field` is a map: a repeated message field whose type is a map entry.
    public func isMap(_ field: Google_Protobuf_FieldDescriptorProto) -> Bool {
        field.label == .repeated && field.type == .message && message(named: field.typeName)?.options.mapEntry == true
    }

    /// The message a field of type `.TYPE_MESSAGE` refers to (`type_name` is absolute: `.a.B`).
    public func message(named typeName: String) -> Google_Protobuf_DescriptorProto? {
        messages[typeName.hasPrefix(".") ? String(typeName.dropFirst()) : typeName]
    }

    /// Resolves a dotted field path (`shelf.name`) from `messageName`: every step but the last
    /// must be a singular message field. Returns the fields along the path.
    public func fieldPath(_ path: [String], in messageName: String) throws(DescriptorError) -> [Google_Protobuf_FieldDescriptorProto] {
        var fields: [Google_Protobuf_FieldDescriptorProto] = []
        var current = messageName
        for (position, name) in path.enumerated() {
            guard let message = message(named: current) else { throw DescriptorError("message '\(current)' is not in the descriptor set") }
            guard let field = message.field.first(where: { $0.name == name }) else {
                throw DescriptorError("'\(path.joined(separator: "."))': '\(name)' is not a field of \(current)")
            }
            fields.append(field)
            if position < path.count - 1 {
                guard field.type == .message, field.label != .repeated else {
                    throw DescriptorError("'\(path.joined(separator: "."))': '\(name)' is not a singular message field")
                }
                current = String(field.typeName.dropFirst())
            }
        }
        return fields
    }
}
