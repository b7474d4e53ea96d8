// The server side of gRPC server reflection (grpc/grpc src/proto/grpc/reflection/v1/
// reflection.proto): what a server answers to each ServerReflectionRequest, from the one
// descriptor set it serves. v1alpha is the same on the wire. Files go out as grpcio's server
// sends them: the asked-for file first, then every file it imports, directly or not.
import FerryCore
import SwiftProtobuf
import Transcode

public struct ReflectionCatalog: Sendable {
    private struct File: Sendable {
        var bytes: [UInt8]
        var dependencies: [String]
    }

    private var files: [String: File] = [:]
    /// Fully-qualified names (no leading dot) of services, methods, messages, enums and
    /// extensions, to the file that defines each.
    private var fileOfSymbol: [String: String] = [:]
    /// Extended message → (field number → file that declares the extension).
    private var extensions: [String: [Int32: String]] = [:]
    /// Every service, by full name, in the set's order.
    public private(set) var services: [String] = []

    /// The catalog of a serialized FileDescriptorSet.
    public init(descriptorSet: [UInt8]) throws(ReflectionError) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
        } catch {
            throw ReflectionError("the descriptor set does not decode: \(error)")
        }
        for file in set.file {
            do {
                files[file.name] = File(bytes: try file.serializedBytes(), dependencies: file.dependency)
            } catch {
                throw ReflectionError("file '\(file.name)' does not encode: \(error)")
            }
            index(file)
        }
    }

    /// The serialized ServerReflectionResponse to one serialized ServerReflectionRequest.
    public func answer(_ request: [UInt8]) -> [UInt8] {
        var response = WireWriter()
        do throws(WireFormatError) {
            try withTypedUnsafeBytes(request) { buffer throws(WireFormatError) in
                var reader = WireReader(buffer, range: 0..<buffer.count)
                var host = ""
                var answered = false
                while let (number, value) = try reader.nextLengthDelimited() {
                    let text = String(decoding: buffer[value], as: UTF8.self)
                    switch number {
                    case 1: host = text
                    case 3: answerFile(named: text, into: &response)
                    case 4: answerSymbol(text, into: &response)
                    case 5: try answerExtension(WireReader(buffer, range: value), into: &response)
                    case 6: answerExtensionNumbers(of: text, into: &response)
                    case 7: answerServices(into: &response)
                    default: continue
                    }
                    answered = true
                }
                if !answered { Self.error(.invalidArgument, "the request asks for nothing this server knows", into: &response) }
                response.writeLengthDelimited(1, host.utf8)
            }
        } catch {
            response = WireWriter()
            Self.error(.invalidArgument, "\(error)", into: &response)
        }
        response.writeLengthDelimited(2, request)
        return response.bytes
    }

    // MARK: Answers (ServerReflectionResponse's oneof)

    private func answerFile(named name: String, into response: inout WireWriter) {
        guard files[name] != nil else { return Self.error(.notFound, "no file named \(name)", into: &response) }
        var list = WireWriter()
        for file in withImports(name) { list.writeLengthDelimited(1, files[file]!.bytes) }
        response.writeLengthDelimited(4, list.bytes)
    }

    private func answerSymbol(_ symbol: String, into response: inout WireWriter) {
        guard let file = fileOfSymbol[symbol] else { return Self.error(.notFound, "no symbol named \(symbol)", into: &response) }
        answerFile(named: file, into: &response)
    }

    /// ExtensionRequest { containing_type = 1, extension_number = 2 }.
    private func answerExtension(_ request: WireReader, into response: inout WireWriter) throws(WireFormatError) {
        var reader = request
        var extended = ""
        var number: Int32 = 0
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch (field, type) {
            case (1, .lengthDelimited): extended = String(decoding: reader.bytes[try reader.readLengthDelimited()], as: UTF8.self)
            case (2, .varint): number = Int32(truncatingIfNeeded: try reader.readVarint())
            default: try reader.skip(type, number: field)
            }
        }
        guard let file = extensions[extended]?[number] else {
            return Self.error(.notFound, "no extension \(number) of \(extended)", into: &response)
        }
        answerFile(named: file, into: &response)
    }

    /// ExtensionNumberResponse { base_type_name = 1, repeated extension_number = 2 }.
    private func answerExtensionNumbers(of type: String, into response: inout WireWriter) {
        guard fileOfSymbol[type] != nil else { return Self.error(.notFound, "no message named \(type)", into: &response) }
        var numbers = WireWriter()
        numbers.writeLengthDelimited(1, type.utf8)
        for number in (extensions[type] ?? [:]).keys.sorted() {
            numbers.writeTag(2, .varint)
            numbers.writeVarint(UInt64(UInt32(bitPattern: number)))
        }
        response.writeLengthDelimited(5, numbers.bytes)
    }

    /// ListServiceResponse { repeated ServiceResponse service = 1 { name = 1 } }.
    private func answerServices(into response: inout WireWriter) {
        var list = WireWriter()
        for service in services {
            var entry = WireWriter()
            entry.writeLengthDelimited(1, service.utf8)
            list.writeLengthDelimited(1, entry.bytes)
        }
        response.writeLengthDelimited(6, list.bytes)
    }

    /// ErrorResponse { error_code = 1, error_message = 2 }.
    private static func error(_ code: GRPCStatusCode, _ message: String, into response: inout WireWriter) {
        var error = WireWriter()
        error.writeTag(1, .varint)
        error.writeVarint(UInt64(code.rawValue))
        error.writeLengthDelimited(2, message.utf8)
        response.writeLengthDelimited(7, error.bytes)
    }

    /// `name`, then the files it imports, each once, depth first.
    private func withImports(_ name: String) -> [String] {
        var order: [String] = []
        var seen = Set<String>()
        func visit(_ file: String) {
            guard seen.insert(file).inserted, let entry = files[file] else { return }
            order.append(file)
            for dependency in entry.dependencies { visit(dependency) }
        }
        visit(name)
        return order
    }

    // MARK: Indexing a file's definitions

    private mutating func index(_ file: Google_Protobuf_FileDescriptorProto) {
        for message in file.messageType { index(message, scope: file.package, file: file.name) }
        for type in file.enumType { _ = define(type.name, scope: file.package, file: file.name) }
        for service in file.service {
            let serviceName = define(service.name, scope: file.package, file: file.name)
            services.append(serviceName)
            for method in service.method { _ = define(method.name, scope: serviceName, file: file.name) }
        }
        for field in file.extension { index(extension: field, scope: file.package, file: file.name) }
    }

    private mutating func index(_ message: Google_Protobuf_DescriptorProto, scope: String, file: String) {
        let fullName = define(message.name, scope: scope, file: file)
        for nested in message.nestedType { index(nested, scope: fullName, file: file) }
        for type in message.enumType { _ = define(type.name, scope: fullName, file: file) }
        for field in message.extension { index(extension: field, scope: fullName, file: file) }
    }

    private mutating func index(extension field: Google_Protobuf_FieldDescriptorProto, scope: String, file: String) {
        _ = define(field.name, scope: scope, file: file)
        // Extendees are written fully qualified with a leading dot.
        extensions[String(field.extendee.drop { $0 == "." }), default: [:]][field.number] = file
    }

    private mutating func define(_ simpleName: String, scope: String, file: String) -> String {
        let fullName = scope.isEmpty ? simpleName : "\(scope).\(simpleName)"
        fileOfSymbol[fullName] = file
        return fullName
    }
}
