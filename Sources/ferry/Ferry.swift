// The `ferry` command line: run, check, demo, call.
import ArgumentParser
import Config
import FerryCore
import Front
import Glibc
import Logging
import NodeService
import Transcode

@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "A gRPC-Web gateway and sidecar proxy.",
        version: FerryVersion.current,
        subcommands: [Run.self, Check.self, Demo.self, Call.self])
}

enum FerryVersion {
    static let current = "0.1.0"
}

struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func bootstrap() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "ferry")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Loads and validates a config file, or exits 2 with the key path and the reason.
func loadConfig(path: String) throws -> FerryConfig {
    guard let text = readTextFile(path) else {
        printError("ferry: cannot read config '\(path)': \(String(cString: strerror(errno)))")
        throw ExitCode(2)
    }
    do {
        return try ConfigLoader.load(yaml: text, defaultWorkers: sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    } catch {
        printError("ferry: invalid config '\(path)': \(error)")
        throw ExitCode(2)
    }
}

/// The whole file as UTF-8 text, or nil with `errno` set.
func readTextFile(_ path: String) -> String? {
    readFile(path).map { String(decoding: $0, as: UTF8.self) }
}

/// The whole file, or nil with `errno` set.
func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return readAll(fd)
}

/// Everything left to read on `fd`, or nil with `errno` set.
func readAll(_ fd: Int32) -> [UInt8]? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { return nil }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<count])
    }
}

/// The `rest` section made ready: descriptor set read, rules and types checked. Exits 2 with
/// the reason when any of it fails.
func loadREST(_ config: FerryConfig) throws -> RESTTranscoding? {
    guard let rest = config.rest else { return nil }
    guard let descriptorSet = readFile(rest.descriptorSet) else {
        printError("ferry: rest.descriptor_set: cannot read '\(rest.descriptorSet)': \(String(cString: strerror(errno)))")
        throw ExitCode(2)
    }
    do {
        return try RESTTranscoding(
            descriptorSet: descriptorSet, services: rest.services,
            printOptions: JSONPrintOptions(emitUnpopulated: rest.emitUnpopulated, useProtoNames: rest.useProtoNames,
                                           enumsAsIntegers: rest.enumsAsIntegers),
            parseOptions: JSONParseOptions(ignoreUnknownFields: rest.ignoreUnknownFields),
            requestHeaders: rest.requestHeaders.map(Set.init),
            defaultTimeout: rest.defaultTimeoutNanoseconds.map { GRPCTimeout(nanoseconds: Int64($0)) })
    } catch {
        printError("ferry: rest: \(error)")
        throw ExitCode(2)
    }
}

/// This program's path, for command lines printed to the user.
func executablePath() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    return count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "ferry"
}

func printError(_ line: String) {
    writeOut(STDERR_FILENO, Array((line + "\n").utf8))
}

/// Writes all of `bytes` to `fd` (a short write continues where it stopped).
func writeOut(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written > 0 else { return }
        offset += written
    }
}

/// Runs the gateway until SIGINT or SIGTERM, then drains.
func serve(_ config: FerryConfig, rest: RESTTranscoding?, logger: Logger, beforeServing: () throws -> Void = {}) throws {
    Gateway.blockShutdownSignals()
    try beforeServing()
    let running: RunningGateway
    do {
        running = try Gateway(config: config, rest: rest, logger: logger).start()
    } catch {
        logger.critical("cannot start: \(error)")
        throw ExitCode(1)
    }
    logger.info("ferry listening", metadata: ["listeners": "\(config.listeners.map(\.address).joined(separator: ","))",
                                              "workers": "\(config.workers)"])
    let signal = Gateway.waitForShutdownSignal()
    logger.info("\(signal) received: draining")
    if running.drain() {
        logger.info("drained")
    } else {
        logger.warning("drain timeout reached with calls in flight")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway with a config file.")

    @Option(help: "Path to the YAML config.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = logging.bootstrap()
        let loaded = try loadConfig(path: config)
        try serve(loaded, rest: try loadREST(loaded), logger: logger)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file: exit 0, or 2 with the reason.")

    @Option(help: "Path to the YAML config.")
    var config: String

    func run() throws {
        let loaded = try loadConfig(path: config)
        let rest = try loadREST(loaded)
        let restSummary = rest.map { ", REST: \($0.catalog.routes.rules.count) rule(s)" } ?? ""
        print("config ok: \(loaded.listeners.count) listener(s), \(loaded.routes.count) route(s), \(loaded.clusters.count) cluster(s), \(loaded.workers) worker(s)\(restSummary)")
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the bundled NodeService on 127.0.0.1:50051 and the gateway on 127.0.0.1:8080.")

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = logging.bootstrap()
        let config: FerryConfig
        let rest: RESTTranscoding
        do {
            config = try ConfigLoader.load(yaml: DemoConfig.yaml, defaultWorkers: 1)
            // The embedded descriptor set stands in for a `rest` section's file.
            rest = try RESTTranscoding(descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64) ?? [],
                                       services: [NodeServiceHandlers.serviceName],
                                       printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions())
        } catch {
            logger.critical("embedded demo config is invalid: \(error)")
            throw ExitCode(1)
        }
        try serve(config, rest: rest, logger: logger) {
            do {
                try NodeServiceBackend.startInBackground(address: "127.0.0.1:50051", logger: logger)
            } catch {
                logger.critical("cannot start NodeService: \(error)")
                throw ExitCode(1)
            }
            // GetNode{node_id: "n1"} as a gRPC-Web text frame: 00 00000004 0a 02 6e 31.
            print("""
                Ferry demo: gateway on http://127.0.0.1:8080, NodeService on 127.0.0.1:50051.
                Try a gRPC-Web call (text mode, so the reply is printable once decoded):

                  curl -s http://127.0.0.1:8080/node.v1.NodeService/GetNode \\
                    -H 'content-type: application/grpc-web-text' -H 'x-grpc-web: 1' \\
                    --data 'AAAAAAQKAm4x' | base64 -d | tr -c '[:print:]' '.'; echo

                It prints the Node message (id n1, name node-n1, labels) and the trailer frame
                with grpc-status:0. The same call as REST/JSON (google.api.http rules of node.proto):

                  curl -s http://127.0.0.1:8080/v1/nodes/n1; echo

                or with Ferry's own JSON client, which works for any method of an exposed service:

                  \(executablePath()) call 127.0.0.1:8080 node.v1.NodeService/GetNode '{"nodeId":"n1"}'

                Stop with Ctrl-C.

                """)
            fflush(nil)  // all streams: the test harness and users read the line at once
        }
    }
}
