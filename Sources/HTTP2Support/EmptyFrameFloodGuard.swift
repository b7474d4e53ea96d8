// The "empty frames flood" (CVE-2019-9518): a peer sends DATA, HEADERS or CONTINUATION frames
// with no payload that end nothing. Each costs the sender nine bytes and the receiver a frame's
// processing, without limit, since no flow-control window is spent. As Envoy's
// `max_consecutive_inbound_frames_with_empty_payload`, a run of such frames longer than a small
// bound ends the connection with GOAWAY(ENHANCE_YOUR_CALM). (PING, SETTINGS and CONTINUATION
// header floods are nghttp2's own: its outbound ACK queue limit and header-list bounds.)
import CNghttp2

public struct EmptyFrameFloodGuard: Sendable {
    /// Consecutive empty frames allowed; one more is a flood.
    public let limit: Int
    private var consecutive = 0

    public init(limit: Int = 10) {
        self.limit = limit
    }

    /// Looks at a received frame's header (nghttp2's `on_begin_frame_callback`); true when
    /// this frame makes the run of empty frames a flood.
    public mutating func frameBegins(type: UInt8, flags: UInt8, length: Int) -> Bool {
        let ending: UInt8
        switch UInt32(type) {
        case NGHTTP2_DATA.rawValue: ending = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue)
        case NGHTTP2_HEADERS.rawValue: ending = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue | NGHTTP2_FLAG_END_HEADERS.rawValue)
        case NGHTTP2_CONTINUATION.rawValue: ending = UInt8(NGHTTP2_FLAG_END_HEADERS.rawValue)
        default: return false
        }
        guard length == 0, flags & ending == 0 else {
            consecutive = 0
            return false
        }
        consecutive += 1
        return consecutive > limit
    }
}
