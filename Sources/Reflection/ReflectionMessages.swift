// The two messages of gRPC server reflection that a client asking for descriptor files needs:
// ServerReflectionRequest and ServerReflectionResponse of grpc.reflection.v1 (grpc/grpc
// src/proto/grpc/reflection/v1/reflection.proto). v1alpha's messages are the same on the wire:
// only the service's name differs.
import FerryCore
import Transcode

/// One ServerReflectionRequest, of the kinds Ferry sends.
public enum ReflectionRequest: Equatable, Sendable {
    /// `file_containing_symbol` (field 4): the file that defines a service, message or enum.
    case fileContainingSymbol(String)
    /// `file_by_filename` (field 3): a file by the name an import gives.
    case fileByFilename(String)

    public var serialized: [UInt8] {
        var writer = WireWriter()
        switch self {
        case .fileByFilename(let name): writer.writeLengthDelimited(3, name.utf8)
        case .fileContainingSymbol(let symbol): writer.writeLengthDelimited(4, symbol.utf8)
        }
        return writer.bytes
    }
}

/// One ServerReflectionResponse, as far as a client asking for files reads it.
public enum ReflectionResponse: Equatable, Sendable {
    /// `file_descriptor_response` (field 4): serialized FileDescriptorProtos, the asked-for
    /// file first (servers may add its imports).
    case files([[UInt8]])
    /// `error_response` (field 7): a gRPC status code and its message.
    case error(code: Int32, message: String)
    /// Any other answer (a list of services, extension numbers), or none.
    case other

    public init(serialized bytes: [UInt8]) throws(WireFormatError) {
        var response = ReflectionResponse.other
        try withTypedUnsafeBytes(bytes) { buffer throws(WireFormatError) in
            var reader = WireReader(buffer, range: 0..<buffer.count)
            while !reader.isAtEnd {
                let (number, type) = try reader.readTag()
                switch (number, type) {
                case (4, .lengthDelimited):
                    var files: [[UInt8]] = []
                    var inner = try Self.nested(&reader)
                    while let (field, payload) = try inner.nextLengthDelimited() {
                        guard field == 1 else { continue }
                        files.append(Array(buffer[payload]))
                    }
                    response = .files(files)
                case (7, .lengthDelimited):
                    var code: Int32 = 0
                    var message = ""
                    var inner = try Self.nested(&reader)
                    while !inner.isAtEnd {
                        let (field, fieldType) = try inner.readTag()
                        switch (field, fieldType) {
                        case (1, .varint): code = Int32(truncatingIfNeeded: try inner.readVarint())
                        case (2, .lengthDelimited): message = String(decoding: buffer[try inner.readLengthDelimited()], as: UTF8.self)
                        default: try inner.skip(fieldType, number: field)
                        }
                    }
                    response = .error(code: code, message: message)
                case (4, _), (7, _):
                    throw reader.error("field \(number) is a message, not wire type \(type.rawValue)")
                default:
                    try reader.skip(type, number: number)
                }
            }
        }
        self = response
    }

    /// A reader over the nested message that starts at `reader`, which moves past it.
    private static func nested(_ reader: inout WireReader) throws(WireFormatError) -> WireReader {
        let range = try reader.readLengthDelimited()
        return WireReader(reader.bytes, range: range, base: reader.base)
    }
}
