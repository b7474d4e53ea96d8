// The messages, enums and services of a descriptor set (`protoc --include_imports
// --descriptor_set_out`), indexed by fully-qualified name: what the transcoder reads at run
// time instead of generated code, so that any service can be exposed from config.
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
        }
    }

    private mutating func index(_ message: Google_Protobuf_DescriptorProto, prefix: String) {
        let name = prefix + message.name
        messages[name] = message
        for nested in message.nestedType { index(nested, prefix: name + ".") }
        for enumType in message.enumType { enums[name + "." + enumType.name] = enumType }
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
