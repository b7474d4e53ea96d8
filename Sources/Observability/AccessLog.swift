// The access log: one JSON line per call (time, peer, method, path, protocol, statuses, bytes,
// duration, upstream endpoint, attempts, trace id), to stdout or a file. Each line leaves in
// one write(2) on an O_APPEND descriptor, so that the workers' lines never interleave.
import Glibc

/// One call as the access log records it.
public struct AccessLogEntry: Sendable, Equatable {
    /// Unix time of the request's arrival, in nanoseconds.
    public var startNanoseconds: UInt64
    public var peer: String
    public var method: String
    public var path: String
    /// `grpc-web`, `grpc-web-text`, `rest`, or `http` for what Ferry answered itself.
    public var protocolName: String
    public var grpcStatus: Int?
    public var httpStatus: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var durationNanoseconds: UInt64
    public var upstream: String?
    public var attempts: Int
    public var traceID: String?

    public init(startNanoseconds: UInt64, peer: String, method: String, path: String, protocolName: String,
                grpcStatus: Int?, httpStatus: Int, bytesIn: Int, bytesOut: Int, durationNanoseconds: UInt64,
                upstream: String?, attempts: Int, traceID: String?) {
        self.startNanoseconds = startNanoseconds
        self.peer = peer
        self.method = method
        self.path = path
        self.protocolName = protocolName
        self.grpcStatus = grpcStatus
        self.httpStatus = httpStatus
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.durationNanoseconds = durationNanoseconds
        self.upstream = upstream
        self.attempts = attempts
        self.traceID = traceID
    }

    /// The JSON line, newline included; keys in a fixed order, absent values as null.
    public var jsonLine: String {
        func quoted(_ text: String?) -> String {
            guard let text else { return "null" }
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case let control where control.value < 0x20:
                    let digits = String(control.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let milliseconds = Double(durationNanoseconds) / 1_000_000
        return "{\"time\":\(quoted(rfc3339(nanoseconds: startNanoseconds))),\"peer\":\(quoted(peer)),"
            + "\"method\":\(quoted(method)),\"path\":\(quoted(path)),\"protocol\":\(quoted(protocolName)),"
            + "\"grpc_status\":\(grpcStatus.map(String.init) ?? "null"),\"http_status\":\(httpStatus),"
            + "\"bytes_in\":\(bytesIn),\"bytes_out\":\(bytesOut),\"duration_ms\":\((milliseconds * 1000).rounded() / 1000),"
            + "\"upstream\":\(quoted(upstream)),\"attempts\":\(attempts),\"trace_id\":\(quoted(traceID))}\n"
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
        var line = entry.jsonLine
        line.withUTF8 { bytes in _ = write(fd, bytes.baseAddress, bytes.count) }
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "cannot open access log '\(path)': \(reason)" }
}

/// `YYYY-MM-DDThh:mm:ss.mmmZ` of Unix nanoseconds (days from civil, Howard Hinnant's algorithm).
func rfc3339(nanoseconds: UInt64) -> String {
    let seconds = Int64(nanoseconds / 1_000_000_000)
    let milliseconds = Int64(nanoseconds / 1_000_000 % 1_000)
    let days = seconds / 86_400
    let secondOfDay = seconds % 86_400
    let shifted = days + 719_468
    let era = shifted / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):\(pad(secondOfDay / 60 % 60, 2))"
        + ":\(pad(secondOfDay % 60, 2)).\(pad(milliseconds, 3))Z"
}
