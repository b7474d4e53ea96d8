// The response half of one request, as an exchange sees it, whatever carries it: the HTTP/1.1
// connection (one exchange at a time, RFC 9112) or one stream of an HTTP/2 connection (RFC 9113).
// The gRPC-Web, REST and native-gRPC exchanges write only through this (nghttpx's Downstream,
// Envoy's StreamEncoderFilterCallbacks), so each is tested with a fake stream and no socket.
import FerryCore

protocol DownstreamStream: AnyObject {
    /// An empty field list for the response head, its storage lent by the stream's connection:
    /// `sendHead` takes it back for the next response, so that writing a head allocates nothing.
    /// Hand it over with `consume`: a copy the exchange still holds would make the storage
    /// shared, and the next head would need new storage after all.
    func emptyHeaders() -> HeaderFields
    /// The response's status and header fields. `contentLength`: the body's exact size when it
    /// is known (0: the head is the whole response); nil: the body follows in pieces.
    func sendHead(status: Int, headers: consuming HeaderFields, contentLength: Int?)
    /// Body bytes; copied before the call returns.
    func sendData(_ bytes: UnsafeRawBufferPointer)
    /// The response is complete. `trailers` follow the body: HTTP/1.1's chunked trailer section
    /// (streamed bodies only), an HTTP/2 HEADERS frame.
    func sendEnd(trailers: HeaderFields)
    /// The response cannot be completed: the client must see it cut short (HTTP/1.1: the
    /// connection closes before the last chunk; HTTP/2: RST_STREAM).
    func abort()
    /// Response bytes written and not yet taken by the client: the upstream is held back while
    /// this is above `bufferLimitBytes` (UpstreamCredit).
    var queuedBytes: Int { get }
    var bufferLimitBytes: Int { get }
    /// The client reads slower than the backend sends: counted and logged as a limit hit.
    func bufferLimitReached()
    /// `count` bytes of a streamed request body have left for the backend: the client may
    /// send that much more (HTTP/2 WINDOW_UPDATE).
    func requestBytesForwarded(_ count: Int)
}

extension DownstreamStream {
    func sendData(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { sendData($0) }
    }
}
