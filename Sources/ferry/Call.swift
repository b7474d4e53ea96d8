// `ferry call`: one gRPC call through a running Ferry, JSON in and JSON out — a grpcurl-like
// helper for the REST address every exposed method has, `POST /package.Service/Method` with
// the request message as its JSON body. Server streams are asked for as NDJSON and printed
// message by message as they arrive.
import ArgumentParser
import FerryCore
import Glibc
import Loop

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call a method through a running Ferry with JSON in and JSON out.",
        discussion: """
            The gateway needs a `rest` section exposing the service. A client-streaming method takes \
            a JSON array of messages. Exit status: 0 when the call succeeds, 1 when it fails (the \
            google.rpc.Status goes to stderr), 2 when the gateway cannot be reached.
            """)

    @Argument(help: "The gateway's address: host:port, e.g. 127.0.0.1:8080.")
    var address: String

    @Argument(help: "The method: package.Service/Method, e.g. node.v1.NodeService/GetNode.")
    var method: String

    @Argument(help: "The request as JSON ('-' reads it from stdin).")
    var json: String = "{}"

    @Option(name: [.customShort("H"), .customLong("header")], help: "A request header 'name: value' (metadata); repeatable.")
    var headers: [String] = []

    @Flag(help: "Print the JSON as the gateway sent it, not indented.")
    var compact = false

    func validate() throws {
        let parts = method.split(separator: "/")
        guard parts.count == 2, parts[0].contains(".") else {
            throw ValidationError("method '\(method)' is not package.Service/Method")
        }
        for header in headers where !header.contains(":") {
            throw ValidationError("header '\(header)' is not 'name: value'")
        }
    }

    func run() throws {
        let body: [UInt8]
        if json == "-" {
            guard let input = FileReader.readAll(STDIN_FILENO) else {
                printError("ferry call: cannot read the request from stdin: \(String(cString: strerror(errno)))")
                throw ExitCode(2)
            }
            body = input
        } else {
            body = Array(json.utf8)
        }
        var request = "POST /\(method) HTTP/1.1\r\nhost: \(address)\r\ncontent-type: application/json\r\n"
        request += "accept: application/x-ndjson\r\nconnection: close\r\ncontent-length: \(body.count)\r\n"
        for header in headers { request += header + "\r\n" }
        request += "\r\n"

        var printer = CallOutput(indent: !compact)
        let complete = try sendHTTPRequest(Array(request.utf8) + body, to: address, command: "ferry call") {
            printer.received($0, status: $1, contentType: $2)
        }
        guard complete else {
            printer.finish()
            printError("ferry call: the response from \(address) ended early")
            throw ExitCode(1)
        }
        printer.finish()
        if printer.failed { throw ExitCode(1) }
    }
}

struct CallError: Error {
    var reason: String
}

/// Sends `request` to `address` on a new connection and hands the response's body to
/// `received` as it arrives; true when the response was complete. Exits 2 (after saying why,
/// as `command`) when the address cannot be reached or answers with something not HTTP.
func sendHTTPRequest(
    _ request: [UInt8], to address: String, command: String,
    received: (_ piece: [UInt8], _ status: Int, _ contentType: String) -> Void
) throws -> Bool {
    let (host, port) = splitAddress(address)
    let fd: Int32
    do {
        fd = try connectTCP(host: host, port: port)
    } catch {
        printError("\(command): cannot connect to \(address): \(error.reason)")
        throw ExitCode(2)
    }
    defer { close(fd) }
    guard sendAll(fd, request) else {
        printError("\(command): cannot send to \(address): \(String(cString: strerror(errno)))")
        throw ExitCode(2)
    }
    var reader = HTTPResponseReader()
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while !reader.isComplete {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { break }
        do {
            try reader.consume(buffer[..<count], body: received)
        } catch {
            printError("\(command): \(address) sent an invalid HTTP response: \(error.reason)")
            throw ExitCode(2)
        }
    }
    return reader.isComplete
}

/// `host:port` or `[v6]:port`.
private func splitAddress(_ address: String) -> (host: String, port: String) {
    guard let colon = address.lastIndex(of: ":") else { return (address, "80") }
    var host = String(address[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, String(address[address.index(after: colon)...]))
}

private func connectTCP(host: String, port: String) throws(CallError) -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, port, &hints, &list)
    guard status == 0, let list else { throw CallError(reason: String(cString: gai_strerror(status))) }
    defer { freeaddrinfo(list) }
    var lastError = "no address"
    var entry: UnsafeMutablePointer<addrinfo>? = list
    while let info = entry {
        entry = info.pointee.ai_next
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
        guard fd >= 0 else { continue }
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
        lastError = String(cString: strerror(errno))
        close(fd)
    }
    throw CallError(reason: lastError)
}

private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent > 0 else { return false }
        offset += sent
    }
    return true
}

/// An HTTP/1.1 response read as it arrives (RFC 9112): the head, then a body framed by
/// Content-Length, by chunks, or by the end of the connection. Body bytes go out as they come.
struct HTTPResponseReader {
    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case complete
    }

    private var state = State.head
    private var pending: [UInt8] = []
    private(set) var status = 0
    private(set) var contentType = ""

    var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// `body` gets each piece of the body with the response's status and content type.
    mutating func consume(
        _ bytes: ArraySlice<UInt8>, body: (_ piece: [UInt8], _ status: Int, _ contentType: String) -> Void
    ) throws(CallError) {
        pending += bytes
        var index = 0
        defer { pending.removeFirst(index) }
        while true {
            switch state {
            case .head:
                guard let end = lineEnd(from: index, blank: true) else { return }
                try readHead(pending[index..<end])
                index = end + 4
            case .fixed(let remaining):
                let count = min(remaining, pending.count - index)
                if count > 0 { body(Array(pending[index..<index + count]), status, contentType) }
                index += count
                state = remaining == count ? .complete : .fixed(remaining: remaining - count)
                return
            case .chunkSize:
                guard let end = lineEnd(from: index, blank: false) else { return }
                let text = String(decoding: pending[index..<end], as: UTF8.self)
                guard let size = Int(text.split(separator: ";")[0].trimmingOWS(), radix: 16), size >= 0 else {
                    throw CallError(reason: "bad chunk size '\(text)'")
                }
                index = end + 2
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let count = min(remaining, pending.count - index)
                if count > 0 { body(Array(pending[index..<index + count]), status, contentType) }
                index += count
                guard count == remaining else {
                    state = .chunkData(remaining: remaining - count)
                    return
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard pending.count - index >= 2 else { return }
                index += 2
                state = .chunkSize
            case .trailers:
                // Trailer fields (RFC 9112 §7.1.2) up to the empty line; `ferry call` has no use for them.
                guard let end = lineEnd(from: index, blank: false) else { return }
                let empty = end == index
                index = end + 2
                if empty { state = .complete }
            case .untilClose:
                if index < pending.count { body(Array(pending[index...]), status, contentType) }
                index = pending.count
                return
            case .complete:
                return
            }
        }
    }

    private func lineEnd(from start: Int, blank: Bool) -> Int? {
        let terminator: [UInt8] = blank ? [13, 10, 13, 10] : [13, 10]
        guard pending.count - start >= terminator.count else { return nil }
        var position = start
        while position + terminator.count <= pending.count {
            if pending[position..<position + terminator.count].elementsEqual(terminator) { return position }
            position += 1
        }
        return nil
    }

    private mutating func readHead(_ head: ArraySlice<UInt8>) throws(CallError) {
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let code = Int(statusParts[1]) else {
            throw CallError(reason: "bad status line '\(lines[0])'")
        }
        status = code
        state = .untilClose
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingOWS().lowercased()
            switch parts[0].lowercased() {
            case "content-length":
                guard let length = Int(value) else { throw CallError(reason: "bad content-length '\(value)'") }
                state = length == 0 ? .complete : .fixed(remaining: length)
            case "content-type":
                contentType = value
            case "transfer-encoding" where value == "chunked":
                state = .chunkSize
            default:
                continue
            }
        }
    }
}

/// What `ferry call` prints: each JSON message (one per line from the gateway) indented, to
/// stdout, or to stderr when it is an error (a non-2xx status, or the `{"error": …}` element that
/// ends a failed stream); a body that is not JSON (google.api.HttpBody) raw, to stdout.
struct CallOutput {
    let indent: Bool
    private var line: [UInt8] = []
    private(set) var failed = false

    init(indent: Bool) {
        self.indent = indent
    }

    mutating func received(_ bytes: [UInt8], status: Int, contentType: String) {
        if status / 100 != 2 { failed = true }
        guard contentType.hasPrefix("application/json") || contentType.hasPrefix("application/x-ndjson") else {
            writeOut(STDOUT_FILENO, bytes)
            return
        }
        for byte in bytes {
            if byte == 0x0A {
                emit(line)
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(byte)
            }
        }
    }

    mutating func finish() {
        emit(line)
        line.removeAll()
    }

    private mutating func emit(_ json: [UInt8]) {
        guard !json.allSatisfy(isJSONWhitespace) else { return }
        let isError = failed || json.starts(with: #"{"error":"#.utf8)
        failed = failed || isError
        writeOut(isError ? STDERR_FILENO : STDOUT_FILENO, (indent ? indentedJSON(json) : json) + [0x0A])
    }
}

private func isJSONWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}

/// Valid compact JSON laid out two spaces per level; empty objects and arrays stay `{}`, `[]`.
func indentedJSON(_ json: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(json.count * 2)
    var depth = 0
    var inString = false
    var escaped = false
    func newline() {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
    }
    var index = 0
    while index < json.count {
        let byte = json[index]
        index += 1
        if inString {
            out.append(byte)
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            out.append(byte)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            out.append(byte)
            var next = index
            while next < json.count, isJSONWhitespace(json[next]) { next += 1 }
            if next < json.count, json[next] == UInt8(ascii: "}") || json[next] == UInt8(ascii: "]") {
                out.append(json[next])
                index = next + 1
            } else {
                depth += 1
                newline()
            }
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            newline()
            out.append(byte)
        case UInt8(ascii: ","):
            out.append(byte)
            newline()
        case UInt8(ascii: ":"):
            out.append(contentsOf: ": ".utf8)
        case let other where isJSONWhitespace(other):
            continue
        default:
            out.append(byte)
        }
    }
    return out
}
