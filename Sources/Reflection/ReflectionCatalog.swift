// The server side of gRPC server reflection (grpc/grpc src/proto/grpc/reflection/v1/
// reflection.proto): what a server answers to each ServerReflectionRequest, from the one
// descriptor set it serves. v1alpha is the same on the wire. Files go out as grpcio's server
// sends them: the asked-for file first, then every file it imports, directly or not.
import FerryCore
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
    public init(descriptorSet: [UInt8]) throws(WireFormatError) {
        try withTypedUnsafeBytes(descriptorSet) { buffer throws(WireFormatError) in
            var set = WireReader(buffer, range: 0..<buffer.count)
            while let (number, range) = try set.nextLengthDelimited() {
                guard number == 1 else { continue }
                try index(file: WireReader(buffer, range: range), bytes: Array(buffer[range]))
            }
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

    // MARK: Indexing a FileDescriptorProto

    /// FileDescriptorProto { name = 1, package = 2, dependency = 3, message_type = 4,
    /// enum_type = 5, service = 6, extension = 7 }.
    private mutating func index(file reader: WireReader, bytes: [UInt8]) throws(WireFormatError) {
        var reader = reader
        var name = ""
        var package = ""
        var dependencies: [String] = []
        var definitions: [(field: Int32, range: Range<Int>)] = []
        while let (number, range) = try reader.nextLengthDelimited() {
            switch number {
            case 1: name = String(decoding: reader.bytes[range], as: UTF8.self)
            case 2: package = String(decoding: reader.bytes[range], as: UTF8.self)
            case 3: dependencies.append(String(decoding: reader.bytes[range], as: UTF8.self))
            case 4, 5, 6, 7: definitions.append((number, range))
            default: break
            }
        }
        files[name] = File(bytes: bytes, dependencies: dependencies)
        for (field, range) in definitions {
            let definition = WireReader(reader.bytes, range: range, base: reader.base)
            switch field {
            case 4: try indexMessage(definition, scope: package, file: name)
            case 5: try indexNamed(definition, scope: package, file: name)
            case 6: try indexService(definition, scope: package, file: name)
            default: try indexExtension(definition, scope: package, file: name)
            }
        }
    }

    private mutating func define(_ simpleName: String, scope: String, file: String) -> String {
        let fullName = scope.isEmpty ? simpleName : "\(scope).\(simpleName)"
        fileOfSymbol[fullName] = file
        return fullName
    }

    /// An EnumDescriptorProto: its name (field 1).
    private mutating func indexNamed(_ reader: WireReader, scope: String, file: String) throws(WireFormatError) {
        _ = define(try Self.name(of: reader), scope: scope, file: file)
    }

    /// DescriptorProto { name = 1, nested_type = 3, enum_type = 4, extension = 6 }.
    private mutating func indexMessage(_ reader: WireReader, scope: String, file: String) throws(WireFormatError) {
        let fullName = define(try Self.name(of: reader), scope: scope, file: file)
        var reader = reader
        while let (number, range) = try reader.nextLengthDelimited() {
            guard [3, 4, 6].contains(number) else { continue }
            let inner = WireReader(reader.bytes, range: range, base: reader.base)
            switch number {
            case 3: try indexMessage(inner, scope: fullName, file: file)
            case 4: try indexNamed(inner, scope: fullName, file: file)
            default: try indexExtension(inner, scope: fullName, file: file)
            }
        }
    }

    /// ServiceDescriptorProto { name = 1, method = 2 { name = 1 } }.
    private mutating func indexService(_ reader: WireReader, scope: String, file: String) throws(WireFormatError) {
        let fullName = define(try Self.name(of: reader), scope: scope, file: file)
        services.append(fullName)
        var reader = reader
        while let (number, range) = try reader.nextLengthDelimited() {
            guard number == 2 else { continue }
            let method = WireReader(reader.bytes, range: range, base: reader.base)
            _ = define(try Self.name(of: method), scope: fullName, file: file)
        }
    }

    /// FieldDescriptorProto { name = 1, extendee = 2, number = 3 } of an extension.
    private mutating func indexExtension(_ reader: WireReader, scope: String, file: String) throws(WireFormatError) {
        var reader = reader
        var name = ""
        var extendee = ""
        var number: Int32 = 0
        while !reader.isAtEnd {
            let (field, type) = try reader.readTag()
            switch (field, type) {
            case (1, .lengthDelimited): name = String(decoding: reader.bytes[try reader.readLengthDelimited()], as: UTF8.self)
            case (2, .lengthDelimited): extendee = String(decoding: reader.bytes[try reader.readLengthDelimited()], as: UTF8.self)
            case (3, .varint): number = Int32(truncatingIfNeeded: try reader.readVarint())
            default: try reader.skip(type, number: field)
            }
        }
        _ = define(name, scope: scope, file: file)
        // Extendees are written fully qualified with a leading dot.
        extensions[String(extendee.drop { $0 == "." }), default: [:]][number] = file
    }

    /// Field 1 (`name`) of a descriptor message.
    private static func name(of reader: WireReader) throws(WireFormatError) -> String {
        var reader = reader
        while let (number, range) = try reader.nextLengthDelimited() {
            if number == 1 { return String(decoding: reader.bytes[range], as: UTF8.self) }
        }
        throw reader.error("a descriptor without a name")
    }
}
