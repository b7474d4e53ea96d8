// The `grpc-timeout` header (PROTOCOL-HTTP2.md: Timeout → TimeoutValue TimeoutUnit,
// at most 8 ASCII digits, unit one of H M S m u n).

/// A validated call timeout.
public struct GRPCTimeout: Sendable, Equatable, CustomStringConvertible {
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = max(0, nanoseconds)
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed(String)

        public var description: String {
            switch self {
            case .malformed(let value):
                "malformed grpc-timeout '\(value)': expected 1 to 8 digits followed by one of H, M, S, m, u, n"
            }
        }
    }

    /// Parses the header value strictly.
    public init(parsing value: String) throws(ParseError) {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes.count <= 9, let unit = bytes.last else { throw .malformed(value) }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .malformed(value) }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let scale: Int64
        switch unit {
        case UInt8(ascii: "H"): scale = 3_600_000_000_000
        case UInt8(ascii: "M"): scale = 60_000_000_000
        case UInt8(ascii: "S"): scale = 1_000_000_000
        case UInt8(ascii: "m"): scale = 1_000_000
        case UInt8(ascii: "u"): scale = 1_000
        case UInt8(ascii: "n"): scale = 1
        default: throw .malformed(value)
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: scale)
        self.init(nanoseconds: overflow ? Int64.max : product)
    }

    /// The most precise header value that fits in 8 digits, rounded up.
    public var headerValue: String {
        let units: [(Int64, Character)] = [
            (1, "n"), (1_000, "u"), (1_000_000, "m"),
            (1_000_000_000, "S"), (60_000_000_000, "M"),
            (3_600_000_000_000, "H"),
        ]
        for (scale, unit) in units {
            // Round up so that a forwarded deadline is never earlier than the real one.
            let amount = nanoseconds / scale + (nanoseconds % scale == 0 ? 0 : 1)
            if amount < 100_000_000 { return "\(amount)\(unit)" }
        }
        return "99999999H"
    }

    /// For people: `300ms`, `2s`, `1.5s`, `250us`.
    public var description: String {
        switch nanoseconds {
        case let value where value >= 1_000_000_000 && value % 1_000_000 == 0:
            let milliseconds = value / 1_000_000
            return milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000)s" : "\(Double(milliseconds) / 1_000)s"
        case let value where value % 1_000_000 == 0: return "\(value / 1_000_000)ms"
        case let value where value % 1_000 == 0: return "\(value / 1_000)us"
        default: return "\(nanoseconds)ns"
        }
    }
}
