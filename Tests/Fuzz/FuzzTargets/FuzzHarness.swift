// In-process fuzzing of Ferry's parsers (issue 14): each target takes arbitrary bytes and must
// end in a result or a typed error, never a crash, a hang or unbounded memory. Where a parser
// has an inverse or a second way to reach the same result, the target checks that they agree
// (a split request parses as the whole one does, JSON printed and read back prints the same),
// and stops the process when they do not, so that libFuzzer keeps the input.
//
// `ferry-fuzz` runs one target under libFuzzer (scripts/fuzz); the same targets replay the
// committed corpus and every crash found so far in FuzzRegressionTests.
import Transcode

public enum FuzzTarget: String, CaseIterable, Sendable {
    case http1
    case grpcWeb = "grpc-web"
    case jsonParser = "json-parser"
    case jsonPrinter = "json-printer"
    case pathTemplate = "path-template"
    case config
    case connect
    case jwt
}

public struct FuzzHarness: Sendable {
    /// The message type the JSON targets read and write: every shape of the JSON mapping.
    static let richType = "ferry.test.v1.Rich"
    let transcoder: ProtoJSONTranscoder?

    /// `descriptorSet`: Protos/ferry/test/v1/rich.proto compiled with its imports, for the
    /// JSON targets (the others need none).
    public init(descriptorSet: [UInt8]?) throws {
        transcoder = try descriptorSet.map { try ProtoJSONTranscoder(pool: DescriptorPool(serializedDescriptorSet: $0)) }
    }

    public func run(_ target: FuzzTarget, _ data: UnsafeRawBufferPointer) {
        switch target {
        case .http1: fuzzHTTP1(data)
        case .grpcWeb: fuzzGRPCWeb(data)
        case .jsonParser: fuzzJSONParser(data)
        case .jsonPrinter: fuzzJSONPrinter(data)
        case .pathTemplate: fuzzPathTemplate(data)
        case .config: fuzzConfig(data)
        case .connect: fuzzConnect(data)
        case .jwt: fuzzJWT(data)
        }
    }

    /// The JSON targets' transcoder; a harness made without the descriptor set cannot run them.
    var richTranscoder: ProtoJSONTranscoder {
        guard let transcoder else { fatalError("the JSON fuzz targets need the rich.proto descriptor set") }
        return transcoder
    }
}

/// Stops the process with `message` when two ways to the same result disagree.
func agree(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant broken: \(message())") }
}
