// The `node-service` command: Ferry's reference gRPC backend for demos and benchmarks.
import ArgumentParser
import Logging
import NodeService

@main
struct NodeServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node-service",
        abstract: "Serve node.v1.NodeService, grpc.health.v1.Health and server reflection over h2c.")

    @Option(help: "Address to listen on.")
    var address: String = "127.0.0.1:50051"

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        try NodeServiceBackend.run(address: address, logger: Logger(label: "node-service"))
    }
}
