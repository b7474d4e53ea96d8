// Connect's names for the gRPC status codes (connectrpc.com/docs/protocol, "Error Codes"): the
// snake-case of gRPC's, with `canceled` spelled the American way. The HTTP status of each is
// `GRPCStatusCode.httpStatus` (google/rpc/code.proto's table, which Connect adopted in RFC 003).
import FerryCore

extension GRPCStatusCode {
    /// `not_found`, `canceled`, …; `ok` has no Connect name and is never an error.
    public var connectName: String {
        self == .cancelled ? "canceled" : name.lowercased()
    }
}
