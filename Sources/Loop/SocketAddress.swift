// An IPv4 or IPv6 socket address parsed from `host:port` text.
import CLibevent
import Glibc

public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    var storage: [UInt8]
    public let description: String
    /// FNV-1a of the sockaddr bytes, computed once: pools key their endpoint tables by
    /// address on every call, and hashing the bytes one by one each time cost thousands of
    /// instructions per call.
    private let hashKey: UInt64

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.hashKey == rhs.hashKey && lhs.storage == rhs.storage
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hashKey)
    }

    /// Parses `1.2.3.4:80`, `[::1]:80`, or `localhost:80` (as 127.0.0.1; name resolution is
    /// the DNS cluster's job).
    public init(parsing text: String) throws(LoopError) {
        var literal = text
        if literal.hasPrefix("localhost:") { literal = "127.0.0.1" + literal.dropFirst("localhost".count) }
        guard let colon = literal.lastIndex(of: ":"), !literal[literal.index(after: colon)...].isEmpty,
            literal[literal.index(after: colon)...].allSatisfy(\.isNumber),
            let port = Int(literal[literal.index(after: colon)...]), port <= 65535
        else {
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
        hashKey = storage.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// The host part of the text it was parsed from: an IP address (IPv6 without brackets),
    /// or `localhost`.
    public var host: String {
        let hostPart = description[..<(description.lastIndex(of: ":") ?? description.endIndex)]
        return String(hostPart.hasPrefix("[") ? hostPart.dropFirst().dropLast() : hostPart)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, Int32) -> R) -> R {
        storage.withUnsafeBytes { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), Int32(raw.count))
        }
    }
}

extension SocketAddress {
    /// `IP:port` (`[IPv6]:port`) of a connected socket's peer, for logs.
    public static func peerDescription(of fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard result == 0 else { return "unknown" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> String in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var ip = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                    return "[\(cText(text))]:\(UInt16(bigEndian: address.pointee.sin6_port))"
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                var ip = address.pointee.sin_addr
                inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                return "\(cText(text)):\(UInt16(bigEndian: address.pointee.sin_port))"
            }
        }
    }
}

private func cText(_ text: [CChar]) -> String {
    String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
