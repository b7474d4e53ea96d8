// `connect-timeout-ms` (connectrpc.com/docs/protocol: Timeout-Milliseconds, a positive integer of
// at most 10 ASCII digits), as the call's deadline.
import FerryCore

public struct ConnectTimeoutError: Error, Equatable, CustomStringConvertible {
    public var value: String
    public var description: String {
        "malformed connect-timeout-ms '\(value)': expected a positive integer of at most 10 digits (milliseconds)"
    }
}

extension GRPCTimeout {
    /// The deadline `connect-timeout-ms: value` asks for.
    public init(connectTimeoutMilliseconds value: ArraySlice<UInt8>) throws(ConnectTimeoutError) {
        guard !value.isEmpty, value.count <= 10 else { throw ConnectTimeoutError(value: String(decoding: value, as: UTF8.self)) }
        var milliseconds: Int64 = 0
        for byte in value {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw ConnectTimeoutError(value: String(decoding: value, as: UTF8.self))
            }
            milliseconds = milliseconds * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        guard milliseconds > 0 else { throw ConnectTimeoutError(value: String(decoding: value, as: UTF8.self)) }
        self.init(nanoseconds: milliseconds * 1_000_000)
    }
}
