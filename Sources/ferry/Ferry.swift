// The `ferry` command line: run, check, demo, call, reload.
import ArgumentParser
import Config
import FerryCore
import Front
import Glibc
import Logging
import Loop
import NodeService
import Transcode

@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "A gRPC-Web gateway and sidecar proxy.",
        version: FerryVersion.current,
        subcommands: [Run.self, Check.self, Demo.self, Call.self, Reload.self, OpenAPICommand.self])
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

/// Why a config file or what it names cannot be used.
struct LoadError: Error, CustomStringConvertible {
    var description: String
}

/// Reads and validates a config file and the descriptor set it names.
func readConfigFiles(path: String) throws(LoadError) -> (FerryConfig, RESTTranscoding?) {
    guard let text = readTextFile(path) else {
        throw LoadError(description: "cannot read config '\(path)': \(String(cString: strerror(errno)))")
    }
    let config: FerryConfig
    do {
        config = try ConfigLoader.load(
            yaml: text, defaultWorkers: sysconf(Int32(_SC_NPROCESSORS_ONLN)), environment: processEnvironment())
    } catch {
        throw LoadError(description: "invalid config '\(path)': \(error)")
    }
    return (config, try readREST(config))
}

/// The process's environment variables (`${NAME}` in a config's values).
func processEnvironment() -> [String: String] {
    var variables: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return variables
}

/// `readConfigFiles`, or exit 2 with the key path and the reason.
func loadConfigFiles(path: String) throws -> (FerryConfig, RESTTranscoding?) {
    do {
        return try readConfigFiles(path: path)
    } catch {
        printError("ferry: \(error)")
        throw ExitCode(2)
    }
}

/// The whole file as UTF-8 text, or nil with `errno` set.
func readTextFile(_ path: String) -> String? {
    FileReader.contents(of: path).map { String(decoding: $0, as: UTF8.self) }
}

/// The `rest` section made ready: descriptor set read, rules and types checked. nil also when
/// the descriptors come from server reflection, which the running gateway asks for.
private func readREST(_ config: FerryConfig) throws(LoadError) -> RESTTranscoding? {
    guard let rest = config.rest, case .file(let path) = rest.descriptors else { return nil }
    guard let descriptorSet = FileReader.contents(of: path) else {
        throw LoadError(description: "rest.descriptor_set: cannot read '\(path)': \(String(cString: strerror(errno)))")
    }
    do {
        return try RESTTranscoding(rest, descriptorSet: descriptorSet)
    } catch {
        throw LoadError(description: "rest: \(error)")
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

/// Runs the gateway: reloads on SIGHUP (and POST /reload), drains on SIGTERM (after the
/// drain grace) or SIGINT (at once), then returns.
func serve(
    _ config: FerryConfig, rest: RESTTranscoding?, logger: Logger, reloadSource: ConfigSource?,
    beforeServing: () throws -> Void = {}
) throws {
    Gateway.blockControlSignals()
    try beforeServing()
    let running: RunningGateway
    do {
        running = try Gateway.start(config: config, rest: rest, logger: logger, reloadSource: reloadSource)
    } catch {
        logger.critical("cannot start: \(error)")
        throw ExitCode(1)
    }
    logger.info(
        "ferry listening",
        metadata: [
            "listeners": "\(config.listeners.map(\.address).joined(separator: ","))",
            "admin": "\(config.admin?.address ?? "off")", "workers": "\(config.workers)",
        ])
    // What only starting up used leaves the resident set (issue 19: idle RSS).
    StartupPages.release()
    while true {
        let signal = Gateway.waitForSignal()
        if signal == .hangUp {
            logger.info("SIGHUP received: reloading")
            _ = running.reload()
            StartupPages.release()
            continue
        }
        let grace = signal == .terminate ? running.config.drainGraceNanoseconds : 0
        logger.info("\(signal.name) received: draining", metadata: ["grace_ms": "\(grace / 1_000_000)"])
        if running.drain(graceNanoseconds: grace) {
            logger.info("drained")
        } else {
            logger.warning("drain timeout reached with calls in flight")
        }
        return
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway with a config file.")

    @Option(help: "Path to the YAML config.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = logging.bootstrap()
        let (loaded, rest) = try loadConfigFiles(path: config)
        let path = config
        try serve(loaded, rest: rest, logger: logger, reloadSource: { try readConfigFiles(path: path) })
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a config file, the descriptor set and the TLS files it names: exit 0, or 2 with the reason.")

    @Option(help: "Path to the YAML config.")
    var config: String

    func run() throws {
        let (loaded, rest) = try loadConfigFiles(path: config)
        do {
            try Gateway.checkFiles(loaded)
        } catch {
            printError("ferry: invalid config '\(config)': \(error)")
            throw ExitCode(2)
        }
        var restSummary = rest.map { ", REST: \($0.catalog.routes.rules.count) rule(s)" } ?? ""
        if case .reflection(let source)? = loaded.rest?.descriptors {
            restSummary = ", REST: descriptors from the server reflection of cluster '\(source.cluster)' at run time"
        }
        print(
            "config ok: \(loaded.listeners.count) listener(s), \(loaded.routes.count) route(s), \(loaded.clusters.count) cluster(s), \(loaded.workers) worker(s)\(restSummary)"
        )
    }
}

struct OpenAPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the OpenAPI 3.1 document of the config's REST rules (what GET /openapi.json on the admin listener serves).")

    @Option(help: "Path to the YAML config.")
    var config: String

    func run() throws {
        let (loaded, rest) = try loadConfigFiles(path: config)
        guard let rest else {
            printError(
                loaded.rest == nil
                    ? "ferry: '\(config)' has no rest section: there is no REST API to describe"
                    : "ferry: '\(config)' takes its descriptors from server reflection at run time: GET /openapi.json on the admin listener of the running gateway"
            )
            throw ExitCode(2)
        }
        print(rest.openAPIDocument, terminator: "")
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
            rest = try RESTTranscoding(
                descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64) ?? [],
                services: [NodeServiceHandlers.serviceName],
                printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions())
        } catch {
            logger.critical("embedded demo config is invalid: \(error)")
            throw ExitCode(1)
        }
        try serve(config, rest: rest, logger: logger, reloadSource: nil) {
            do {
                try NodeServiceBackend.startInBackground(address: "127.0.0.1:50051", logger: logger)
            } catch {
                logger.critical("cannot start NodeService: \(error)")
                throw ExitCode(1)
            }
            // GetNode{node_id: "n1"} as a gRPC-Web text frame: 00 00000004 0a 02 6e 31.
            print(
                """
                Ferry demo: gateway on http://127.0.0.1:8080, NodeService on 127.0.0.1:50051.
                Try a gRPC-Web call (text mode, so the reply is printable once decoded):

                  curl -s http://127.0.0.1:8080/node.v1.NodeService/GetNode \\
                    -H 'content-type: application/grpc-web-text' -H 'x-grpc-web: 1' \\
                    --data 'AAAAAAQKAm4x' | base64 -d | tr -c '[:print:]' '.'; echo

                It prints the Node message (id n1, name node-n1, labels) and the trailer frame
                with grpc-status:0. The same call as REST/JSON (google.api.http rules of node.proto):

                  curl -s http://127.0.0.1:8080/v1/nodes/n1; echo

                As Connect (connectrpc.com): unary JSON with POST, or with GET since GetNode has no
                side effects, and a server stream of Connect envelopes:

                  curl -s http://127.0.0.1:8080/node.v1.NodeService/GetNode \\
                    -H 'content-type: application/json' -H 'connect-protocol-version: 1' \\
                    --data '{"nodeId":"n1"}'; echo
                  curl -s 'http://127.0.0.1:8080/node.v1.NodeService/GetNode?connect=v1&encoding=json&message=%7B%22nodeId%22%3A%22n1%22%7D'; echo
                  printf '\\0\\0\\0\\0\\013{"count":3}' | curl -s --data-binary @- \\
                    -H 'content-type: application/connect+json' \\
                    http://127.0.0.1:8080/node.v1.NodeService/WatchNodes | tr -c '[:print:]' '\\n'; echo

                As native gRPC over HTTP/2 on the same port, with any gRPC client; NodeService
                serves server reflection and grpc.health.v1 through the gateway, so grpcurl needs
                no .proto file:

                  grpcurl -plaintext 127.0.0.1:8080 list
                  grpcurl -plaintext -d '{"nodeId":"n1"}' 127.0.0.1:8080 node.v1.NodeService/GetNode
                  grpcurl -plaintext -d '{"service":"node.v1.NodeService"}' 127.0.0.1:8080 grpc.health.v1.Health/Check

                or with Ferry's own JSON client, which works for any method of an exposed service
                (a server stream prints one message per line):

                  \(executablePath()) call 127.0.0.1:8080 node.v1.NodeService/GetNode '{"nodeId":"n1"}'
                  \(executablePath()) call 127.0.0.1:8080 node.v1.NodeService/WatchNodes '{"count":3}' --compact

                Prometheus metrics, the health probes and the REST API's OpenAPI 3.1 document
                are on the admin listener:

                  curl -s 127.0.0.1:9901/metrics | grep ferry_requests_total
                  curl -s 127.0.0.1:9901/openapi.json

                and a console to call any method from a browser: http://127.0.0.1:9901/console

                Stop with Ctrl-C.

                """)
            fflush(nil)  // all streams: the test harness and users read the line at once
        }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running Ferry to reload its config and descriptor files (as SIGHUP does).",
        discussion:
            "Exit status: 0 when the new config is in effect, 1 when it was rejected (the reason is printed), 2 when the admin listener cannot be reached."
    )

    @Option(help: "The admin listener's address.")
    var admin = "127.0.0.1:9901"

    func run() throws {
        let request = "POST /reload HTTP/1.1\r\nhost: \(admin)\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        var status = 0
        var text: [UInt8] = []
        let complete = try sendHTTPRequest(Array(request.utf8), to: admin, command: "ferry reload") { piece, code, _ in
            status = code
            text += piece
        }
        writeOut(status == 200 ? STDOUT_FILENO : STDERR_FILENO, text)
        guard complete, status == 200 else { throw ExitCode(1) }
    }
}
