// A gRPC status: code plus human-readable message, and its trailer encoding.

/// The outcome of a call, as sent in `grpc-status` and `grpc-message`.
public struct GRPCStatus: Sendable, Equatable, Error, CustomStringConvertible {
    public var code: GRPCStatusCode
    public var message: String

    public init(_ code: GRPCStatusCode, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = GRPCStatus(.ok)

    /// Marks an UNAVAILABLE that Ferry answered because a cluster limit (circuit breaker,
    /// pending queue) was reached: overload, not an outage (Envoy's `x-envoy-overloaded`).
    public static let overloadedField = "x-ferry-overloaded"

    public var description: String {
        message.isEmpty ? code.name : "\(code.name): \(message)"
    }

    /// The `grpc-status` and `grpc-message` fields; the message is percent-encoded
    /// as PROTOCOL-HTTP2.md ("Status-Message") requires.
    /// The status a response's trailers (or trailers-only headers) carry: `grpc-status` and the
    /// percent-decoded `grpc-message`; a missing or invalid code is UNKNOWN (statuscodes.md).
    public init(trailers: borrowing HeaderFields) {
        let code = GRPCStatusCode(trailers: trailers)
        let message = trailers["grpc-message"].map(GRPCMessageEncoding.percentDecode) ?? ""
        self.init(code ?? .unknown, code == nil ? "upstream sent no valid grpc-status" : message)
    }

    public var trailerFields: HeaderFields {
        var fields = HeaderFields()
        fields.append(name: "grpc-status", value: String(code.rawValue))
        if !message.isEmpty {
            fields.append(name: "grpc-message", value: GRPCMessageEncoding.percentEncode(message))
        }
        return fields
    }
}

extension GRPCStatusCode {
    /// The `grpc-status` of trailers (or trailers-only headers), read from its bytes; nil when
    /// missing or not a known code. Borrowed: an initializer's parameters are otherwise taken
    /// owned, and each caller retained the block's storage to pass it (twice per call).
    public init?(trailers: borrowing HeaderFields) {
        let parsed = trailers.withFirstValue(of: "grpc-status") { value -> Int? in
            guard !value.isEmpty, value.count <= 2 else { return nil }
            var number = 0
            for byte in value {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                number = number * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return number
        }
        guard let number = parsed ?? nil else { return nil }
        self.init(rawValue: number)
    }
}
