// The `rest` section made ready with its descriptors, however they came (a file, or a backend's
// server reflection): rules and types checked, JSON options set.
import Config
import FerryCore
import Transcode

extension RESTTranscoding {
    public init(_ config: RESTConfig, descriptorSet: [UInt8]) throws(DescriptorError) {
        try self.init(
            descriptorSet: descriptorSet, services: config.services,
            printOptions: JSONPrintOptions(
                emitUnpopulated: config.emitUnpopulated, useProtoNames: config.useProtoNames,
                enumsAsIntegers: config.enumsAsIntegers),
            parseOptions: JSONParseOptions(ignoreUnknownFields: config.ignoreUnknownFields),
            requestHeaders: config.requestHeaders.map(Set.init),
            defaultTimeout: config.defaultTimeoutNanoseconds.map { GRPCTimeout(nanoseconds: Int64($0)) })
    }
}
