// How a connection's first bytes tell HTTP/2 from HTTP/1.1: an HTTP/2 client opens with the
// connection preface (RFC 9113 §3.4), both over cleartext with prior knowledge (h2c) and after
// choosing `h2` with ALPN; no HTTP/1.1 request starts with it ("PRI" is no method Ferry serves).

enum HTTP2Preface {
    static let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Verdict: Equatable {
        case http2
        case http1
        /// The bytes so far agree with the preface: one more read decides.
        case needMore
    }

    static func match(_ received: some Collection<UInt8>) -> Verdict {
        for (index, byte) in zip(bytes.indices, received) where byte != bytes[index] { return .http1 }
        return received.count >= bytes.count ? .http2 : .needMore
    }
}
