// One Connect call's messages both ways: what the client sent (maybe compressed, maybe JSON) as
// the binary message that goes upstream, and the binary replies as the client's codec has them.
import FerryCore
import Gzip
import Transcode

public struct ConnectMessageCodec {
    public let codec: ConnectCodec
    /// The descriptor set's JSON mapping; needed for the JSON codec only.
    let transcoder: ProtoJSONTranscoder?
    let parseOptions: JSONParseOptions
    let printOptions: JSONPrintOptions
    /// Fully-qualified message names (no leading dot); needed for the JSON codec only.
    let inputType: String
    let outputType: String
    /// The largest message, compressed or not: a larger one is RESOURCE_EXHAUSTED.
    let maxMessageBytes: Int

    public init(
        codec: ConnectCodec, transcoder: ProtoJSONTranscoder?, parseOptions: JSONParseOptions = JSONParseOptions(),
        printOptions: JSONPrintOptions = JSONPrintOptions(), inputType: String, outputType: String, maxMessageBytes: Int
    ) {
        self.codec = codec
        self.transcoder = transcoder
        self.parseOptions = parseOptions
        self.printOptions = printOptions
        self.inputType = inputType
        self.outputType = outputType
        self.maxMessageBytes = maxMessageBytes
    }

    /// The binary request message of `payload`, inflated first when `compression` says so
    /// (never an empty payload, which the protocol says not to decompress).
    public func requestMessage(_ payload: [UInt8], compression: ConnectCompression) throws(GRPCStatus) -> [UInt8] {
        var message = payload
        if compression == .gzip && !payload.isEmpty {
            do {
                message = try Gzip.inflate(payload, limit: maxMessageBytes)
            } catch {
                if case .tooLarge = error { throw GRPCStatus(.resourceExhausted, "request message \(error)") }
                throw GRPCStatus(.invalidArgument, "request message: \(error)")
            }
        }
        guard message.count <= maxMessageBytes else {
            throw GRPCStatus(
                .resourceExhausted, "request message of \(message.count) bytes is larger than the limit of \(maxMessageBytes) bytes")
        }
        guard codec == .json else { return message }
        guard let transcoder else { throw Self.jsonNeedsDescriptors }
        do {
            return try transcoder.binary(fromJSON: message, messageType: inputType, options: parseOptions)
        } catch {
            throw GRPCStatus(.invalidArgument, "invalid \(inputType) JSON: \(error)")
        }
    }

    /// A binary reply in the client's codec.
    public func responseMessage(_ binary: UnsafeRawBufferPointer) throws(GRPCStatus) -> [UInt8] {
        guard codec == .json else { return Array(binary) }
        guard let transcoder else { throw Self.jsonNeedsDescriptors }
        do {
            return try transcoder.json(fromBinary: binary, messageType: outputType, options: printOptions)
        } catch {
            throw GRPCStatus(.internal, "cannot write \(outputType) as JSON: \(error)")
        }
    }

    static let jsonNeedsDescriptors = GRPCStatus(
        .unimplemented, "the JSON codec needs the method's descriptors (rest.descriptor_set), and this listener has none")
}
