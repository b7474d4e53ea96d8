// W3C Trace Context (https://www.w3.org/TR/trace-context/, "traceparent" header): the trace a
// call belongs to, read from the request or started by Ferry, so that the backend and the
// access log share one trace id.
import FerryCore

public struct TraceContext: Sendable, Equatable {
    /// 32 lowercase hex digits, not all zero.
    public var traceID: String
    /// 16 lowercase hex digits, not all zero.
    public var parentID: String
    public var flags: String

    /// `version-traceid-parentid-flags` of version 00 (§3.2.2); nil for anything else, which
    /// the spec says to treat as if the header were absent.
    public init?(traceparent: some StringProtocol) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts.allSatisfy({ $0.allSatisfy(isLowercaseHexDigit) }),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" })
        else { return nil }
        traceID = String(parts[1])
        parentID = String(parts[2])
        flags = String(parts[3])
    }

    /// A new trace, sampled, from `generator`'s random bits.
    public init(using generator: inout some RandomNumberGenerator) {
        traceID = hex(generator.next() | 1, digits: 16) + hex(generator.next(), digits: 16)
        parentID = hex(generator.next() | 1, digits: 16)
        flags = "01"
    }

    public var traceparent: String {
        "00-\(traceID)-\(parentID)-\(flags)"
    }
}

private func isLowercaseHexDigit(_ character: Character) -> Bool {
    ("0"..."9").contains(character) || ("a"..."f").contains(character)
}

/// `value` as `digits` lowercase hex digits.
private func hex(_ value: UInt64, digits: Int) -> String {
    let alphabet = Array("0123456789abcdef".utf8)
    var bytes = [UInt8](repeating: 0, count: digits)
    var rest = value
    for index in stride(from: digits - 1, through: 0, by: -1) {
        bytes[index] = alphabet[Int(rest & 0xF)]
        rest >>= 4
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Random bits for new trace ids, per worker: SplitMix64 seeded once from the system's
/// generator, so that a request does not pay for a system call (trace ids need to be unique,
/// not secret: W3C Trace Context §6).
public struct TraceIDGenerator: RandomNumberGenerator {
    private var bits: SplitMix64

    public init() {
        var system = SystemRandomNumberGenerator()
        bits = SplitMix64(state: system.next())
    }

    public mutating func next() -> UInt64 {
        bits.next()
    }
}
