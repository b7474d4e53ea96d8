// Everything the front needs to serve REST calls, built once at startup from the descriptor set
// and shared read-only by every worker.

public struct RESTTranscoding: Sendable {
    public let catalog: RESTCatalog
    public let transcoder: ProtoJSONTranscoder
    public let assembler: RESTRequestAssembler
    public let printOptions: JSONPrintOptions

    public init(descriptorSet: [UInt8], services: [String], printOptions: JSONPrintOptions,
                parseOptions: JSONParseOptions) throws(DescriptorError) {
        let pool = try DescriptorPool(serializedDescriptorSet: descriptorSet)
        catalog = try RESTCatalog(pool: pool, services: services)
        transcoder = try ProtoJSONTranscoder(pool: pool)
        assembler = RESTRequestAssembler(transcoder: transcoder, options: parseOptions)
        self.printOptions = printOptions
    }
}
