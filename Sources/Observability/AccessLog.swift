// The access log: one JSON line per call (time, peer, method, path, protocol, statuses, bytes,
// duration, upstream endpoint, attempts, trace id), to stdout or a file. Each line leaves in
// one write(2) on an O_APPEND descriptor, so that the workers' lines never interleave.
import FerryCore
import Glibc

/// One call as the access log records it.
public struct AccessLogEntry: Sendable, Equatable {
    /// Unix time of the request's arrival, in nanoseconds.
    public var startNanoseconds: UInt64
    public var peer: String
    public var method: String
    public var path: String
    /// `grpc`, `grpc-web`, `grpc-web-text`, `rest`, or `http` for what Ferry answered itself.
    public var protocolName: String
    /// `HTTP/1.1`, `HTTP/2` or `HTTP/1.0`.
    public var httpVersion: String
    public var grpcStatus: Int?
    public var httpStatus: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var durationNanoseconds: UInt64
    public var upstream: String?
    public var attempts: Int
    public var traceID: String?
    /// The verified client certificate's subject, on a mutual-TLS listener.
    public var clientSubject: String?

    public init(
        startNanoseconds: UInt64, peer: String, method: String, path: String, protocolName: String, httpVersion: String,
        grpcStatus: Int?, httpStatus: Int, bytesIn: Int, bytesOut: Int, durationNanoseconds: UInt64,
        upstream: String?, attempts: Int, traceID: String?, clientSubject: String? = nil
    ) {
        self.startNanoseconds = startNanoseconds
        self.peer = peer
        self.method = method
        self.path = path
        self.protocolName = protocolName
        self.httpVersion = httpVersion
        self.grpcStatus = grpcStatus
        self.httpStatus = httpStatus
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.durationNanoseconds = durationNanoseconds
        self.upstream = upstream
        self.attempts = attempts
        self.traceID = traceID
        self.clientSubject = clientSubject
    }

    /// The JSON line, newline included; keys in a fixed order, absent values as null. Built as
    /// bytes in one buffer: on every request when the log is on, so no String formatting.
    public var jsonLine: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + path.utf8.count)
        out.append(contentsOf: #"{"time":""#.utf8)
        appendRFC3339(nanoseconds: startNanoseconds, to: &out)
        out.append(contentsOf: #"","peer":"#.utf8)
        appendQuoted(peer, to: &out)
        out.append(contentsOf: #","method":"#.utf8)
        appendQuoted(method, to: &out)
        out.append(contentsOf: #","path":"#.utf8)
        appendQuoted(path, to: &out)
        out.append(contentsOf: #","protocol":"#.utf8)
        appendQuoted(protocolName, to: &out)
        out.append(contentsOf: #","http_version":"#.utf8)
        appendQuoted(httpVersion, to: &out)
        out.append(contentsOf: #","grpc_status":"#.utf8)
        if let grpcStatus { appendDecimal(UInt64(max(0, grpcStatus)), to: &out) } else { out.append(ascii: "null") }
        out.append(contentsOf: #","http_status":"#.utf8)
        appendDecimal(UInt64(max(0, httpStatus)), to: &out)
        out.append(contentsOf: #","bytes_in":"#.utf8)
        appendDecimal(UInt64(max(0, bytesIn)), to: &out)
        out.append(contentsOf: #","bytes_out":"#.utf8)
        appendDecimal(UInt64(max(0, bytesOut)), to: &out)
        // Milliseconds with three decimals, rounded to the microsecond.
        let microseconds = (durationNanoseconds + 500) / 1_000
        out.append(contentsOf: #","duration_ms":"#.utf8)
        appendDecimal(microseconds / 1_000, to: &out)
        out.append(UInt8(ascii: "."))
        appendDecimal(microseconds % 1_000, width: 3, to: &out)
        out.append(contentsOf: #","upstream":"#.utf8)
        if let upstream { appendQuoted(upstream, to: &out) } else { out.append(ascii: "null") }
        out.append(contentsOf: #","attempts":"#.utf8)
        appendDecimal(UInt64(max(0, attempts)), to: &out)
        out.append(contentsOf: #","trace_id":"#.utf8)
        if let traceID { appendQuoted(traceID, to: &out) } else { out.append(ascii: "null") }
        out.append(contentsOf: #","client_subject":"#.utf8)
        if let clientSubject { appendQuoted(clientSubject, to: &out) } else { out.append(ascii: "null") }
        out.append(ascii: "}\n")
        return out
    }
}

/// A JSON string (RFC 8259 §7): quote, backslash and control characters escaped; text with
/// none of them (nearly always) is copied whole.
private func appendQuoted(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var text = text
    text.withUTF8 { utf8 in
        guard utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            out.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(ascii: "\\u00")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default:
                out.append(byte)
            }
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// `value` in decimal, left-padded with zeros to `width` (at most 20), through a stack buffer.
private func appendDecimal(_ value: UInt64, width: Int = 1, to out: inout [UInt8]) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { buffer in
        var start = buffer.count
        var rest = value
        repeat {
            start -= 1
            buffer[start] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        } while rest > 0
        while buffer.count - start < width {
            start -= 1
            buffer[start] = UInt8(ascii: "0")
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
    }
}

/// Where the lines go. Shared by every worker: each line is one write(2).
public final class AccessLog: Sendable {
    private let fd: Int32

    /// `-` is stdout; anything else a file opened for appending (created 0644).
    public init(path: String) throws(AccessLogError) {
        if path == "-" {
            fd = STDOUT_FILENO
        } else {
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw AccessLogError(path: path, reason: String(cString: strerror(errno))) }
        }
    }

    deinit {
        if fd != STDOUT_FILENO { close(fd) }
    }

    public func record(_ entry: AccessLogEntry) {
        let line = entry.jsonLine
        line.withUnsafeBytes { bytes in _ = write(fd, bytes.baseAddress, bytes.count) }
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "cannot open access log '\(path)': \(reason)" }
}

/// `YYYY-MM-DDThh:mm:ss.mmmZ` of Unix nanoseconds.
func appendRFC3339(nanoseconds: UInt64, to out: inout [UInt8]) {
    let time = CivilTime(unixSeconds: Int64(nanoseconds / 1_000_000_000))
    appendDecimal(UInt64(time.year), width: 4, to: &out)
    out.append(UInt8(ascii: "-"))
    appendDecimal(UInt64(time.month), width: 2, to: &out)
    out.append(UInt8(ascii: "-"))
    appendDecimal(UInt64(time.day), width: 2, to: &out)
    out.append(UInt8(ascii: "T"))
    appendDecimal(UInt64(time.hour), width: 2, to: &out)
    out.append(UInt8(ascii: ":"))
    appendDecimal(UInt64(time.minute), width: 2, to: &out)
    out.append(UInt8(ascii: ":"))
    appendDecimal(UInt64(time.second), width: 2, to: &out)
    out.append(UInt8(ascii: "."))
    appendDecimal(nanoseconds / 1_000_000 % 1_000, width: 3, to: &out)
    out.append(UInt8(ascii: "Z"))
}
