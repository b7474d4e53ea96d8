// An IPv4 or IPv6 socket address parsed from `host:port` text.
import CLibevent

public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    var storage: [UInt8]
    public let description: String

    /// Parses `1.2.3.4:80`, `[::1]:80`, or `localhost:80` (as 127.0.0.1; name resolution is
    /// the DNS cluster's job).
    public init(parsing text: String) throws(LoopError) {
        var literal = text
        if literal.hasPrefix("localhost:") { literal = "127.0.0.1" + literal.dropFirst("localhost".count) }
        guard let colon = literal.lastIndex(of: ":"), !literal[literal.index(after: colon)...].isEmpty,
              literal[literal.index(after: colon)...].allSatisfy(\.isNumber),
              let port = Int(literal[literal.index(after: colon)...]), port <= 65535 else {
            throw .invalidAddress(text)
        }
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<sockaddr_storage>.size)
        var length = Int32(buffer.count)
        let result = buffer.withUnsafeMutableBytes { raw in
            evutil_parse_sockaddr_port(literal, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard result == 0 else { throw .invalidAddress(text) }
        storage = Array(buffer.prefix(Int(length)))
        description = text
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, Int32) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), Int32(raw.count))
        }
    }
}
