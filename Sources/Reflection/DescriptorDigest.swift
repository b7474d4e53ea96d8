// The identity of a descriptor set: the SHA-256 of its serialized FileDescriptorSet, written as
// `sha256:` and 64 lowercase hex digits (the form of OCI image digests), which is what Ferry logs,
// shows in /config and compares with `rest.reflection.pin`.
import COpenSSL

public struct DescriptorDigest: Equatable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(of data: [UInt8]) {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = data.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
        // EVP_Digest fails only when OpenSSL cannot run SHA-256 at all.
        precondition(done == 1 && length == 32, "OpenSSL cannot compute SHA-256")
        bytes = Array(digest.prefix(32))
    }

    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        return "sha256:" + String(decoding: bytes.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
