// Compression of Connect messages (connectrpc.com/docs/protocol): the request names its encoding
// (`content-encoding` for unary calls, `connect-content-encoding` for streams) and the encodings
// it accepts back (`accept-encoding`, `connect-accept-encoding`), most preferred first.
import FerryCore

public enum ConnectCompression: String, Sendable {
    case identity
    case gzip

    /// The encodings Ferry reads and writes, as an error message lists them.
    public static let supported = "gzip, identity"

    /// The request's encoding; without the header, identity. An encoding Ferry cannot read is
    /// UNIMPLEMENTED naming those it can, as the protocol asks.
    public init(requestHeader value: ArraySlice<UInt8>?, headerName: String) throws(GRPCStatus) {
        guard let value else {
            self = .identity
            return
        }
        let name = String(decoding: value, as: UTF8.self).lowercased()
        guard let known = ConnectCompression(rawValue: name) else {
            throw GRPCStatus(.unimplemented, "unknown \(headerName) '\(name)': supported encodings are \(Self.supported)")
        }
        self = known
    }

    /// The encoding for the response: the first of `accept` (a list, most preferred first;
    /// quality values ignored) that Ferry writes; without the header, the request's own; else
    /// identity, which every client accepts.
    public init(accepting accept: ArraySlice<UInt8>?, requestEncoding: ConnectCompression) {
        guard let accept else {
            self = requestEncoding
            return
        }
        for member in accept.split(separator: UInt8(ascii: ",")) {
            let name = String(decoding: member.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
                .filter { $0 != " " && $0 != "\t" }.lowercased()
            if name == "gzip" {
                self = .gzip
                return
            }
        }
        self = .identity
    }
}
