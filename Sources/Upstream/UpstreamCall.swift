// One call to a backend: the exchange's handle on an HTTP/2 stream. It exists before it has a
// stream (while queued in the pool) and after (to report the end), so an exchange can wait,
// attach, and be cancelled the same way at every point (the nghttpx exchange/connection split).
import FerryCore
import HTTP2Support

/// What the backend sends back, one part at a time. `.data` bytes are valid only during the
/// delegate call. Exactly one of `.trailers` or `.failed` ends every call.
public enum UpstreamResponsePart {
    /// Response headers, with `:status`.
    case head(HeaderFields)
    /// Raw gRPC frame bytes, split wherever HTTP/2 DATA frames split them.
    case data(UnsafeRawBufferPointer)
    /// Trailers; when no `.head` came before, this is a trailers-only response.
    case trailers(HeaderFields)
    /// The call ended without trailers: connection loss, reset, refusal or pool limits.
    case failed(GRPCStatus)
}

public protocol UpstreamCallDelegate: AnyObject {
    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart)
}

/// The request sent upstream: path, metadata and the complete native gRPC body.
public struct UpstreamRequest {
    public var path: String
    public var metadata: HeaderFields
    public var contentType: String
    public var timeout: GRPCTimeout?
    public var body: [UInt8]

    public init(path: String, metadata: HeaderFields, contentType: String, timeout: GRPCTimeout?, body: [UInt8]) {
        self.path = path
        self.metadata = metadata
        self.contentType = contentType
        self.timeout = timeout
        self.body = body
    }
}

public final class UpstreamCall {
    enum State {
        case idle
        case queued
        case active(HTTP2ClientConnection, streamID: Int32)
        case finished
    }

    public let request: UpstreamRequest
    /// Not retained and not weak (weak references put the delegate's every retain on a slow
    /// path): the delegate owns the call and calls `cancel()`, which clears this, before it
    /// can go away with the call unfinished; a finished call delivers nothing more.
    public unowned(unsafe) var delegate: UpstreamCallDelegate?
    var state: State = .idle
    /// The part of the request body nghttp2 has not taken yet.
    var unsentBody: OutgoingBytes
    /// DATA bytes received but not yet released with `consume` (flow control).
    var unconsumedBytes = 0
    var headerBlock = HeaderFields()

    public init(request: UpstreamRequest, delegate: UpstreamCallDelegate) {
        self.request = request
        self.delegate = delegate
        unsentBody = OutgoingBytes(request.body)
    }

    public var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    /// Releases `bytes` of received DATA: the backend may send that much more. Call it when
    /// the bytes have left for the downstream, not when they arrived (backpressure).
    public func consume(_ bytes: Int) {
        unconsumedBytes -= bytes
        if case .active(let connection, let streamID) = state {
            connection.consume(bytes, streamID: streamID)
        }
    }

    /// Ends the call from the downstream side: RST_STREAM(CANCEL) if it has a stream, removal
    /// from the queue if it waits. No part is delivered after this.
    public func cancel() {
        delegate = nil
        switch state {
        case .active(let connection, let streamID):
            connection.cancel(streamID: streamID)
        case .queued, .idle:
            state = .finished
        case .finished:
            break
        }
    }

    func deliver(_ part: UpstreamResponsePart) {
        switch part {
        case .trailers, .failed: state = .finished
        case .head, .data: break
        }
        delegate?.upstreamCall(self, received: part)
    }
}
