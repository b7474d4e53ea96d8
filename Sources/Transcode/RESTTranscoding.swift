// Everything the front needs to serve REST calls, built once at startup from the descriptor set
// and shared read-only by every worker.
import FerryCore

public struct RESTTranscoding: Sendable {
    public let catalog: RESTCatalog
    public let transcoder: ProtoJSONTranscoder
    public let assembler: RESTRequestAssembler
    public let printOptions: JSONPrintOptions
    /// The request headers that go upstream as metadata (lowercase); nil: all but hop-by-hop.
    public let requestHeaders: Set<String>?
    /// The deadline of a call whose request has no `grpc-timeout`.
    public let defaultTimeout: GRPCTimeout?

    public init(
        descriptorSet: [UInt8], services: [String], printOptions: JSONPrintOptions,
        parseOptions: JSONParseOptions, requestHeaders: Set<String>? = nil,
        defaultTimeout: GRPCTimeout? = nil
    ) throws(DescriptorError) {
        self.requestHeaders = requestHeaders
        self.defaultTimeout = defaultTimeout
        let pool = try DescriptorPool(serializedDescriptorSet: descriptorSet)
        catalog = try RESTCatalog(pool: pool, services: services)
        transcoder = try ProtoJSONTranscoder(pool: pool)
        assembler = RESTRequestAssembler(transcoder: transcoder, options: parseOptions)
        self.printOptions = printOptions
    }
}
