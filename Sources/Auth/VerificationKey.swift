// The OpenSSL border of JWT verification: a public key (or an HMAC secret) and the one call
// that checks a signature with it (RFC 7518 §3). Public keys reach OpenSSL as DER
// SubjectPublicKeyInfo (RFC 5280 §4.1) built from the JWK's numbers, which OpenSSL checks as
// it decodes them (an EC point off its curve is refused).
import COpenSSL

/// Immutable once made; OpenSSL 3 allows concurrent verifications with one EVP_PKEY, so every
/// worker shares it.
final class VerificationKey: @unchecked Sendable {
    private enum Material {
        case publicKey(OpaquePointer, type: String, curve: String?)
        case secret([UInt8])
    }

    private let material: Material

    /// RSA keys shorter than this are refused: RFC 7518 §3.3 requires 2048 bits.
    static let minimumRSABits: Int32 = 2048

    init(rsaModulus modulus: [UInt8], exponent: [UInt8]) throws(JWTError) {
        let publicKey = DER.sequence(DER.integer(modulus), DER.integer(exponent))
        let info = DER.sequence(
            DER.sequence(DER.rsaEncryption, [0x05, 0x00]), DER.bitString(publicKey))
        let key = try Self.decode(info, what: "RSA")
        guard EVP_PKEY_get_bits(key) >= Self.minimumRSABits else {
            EVP_PKEY_free(key)
            throw .malformed("an RSA key of fewer than \(Self.minimumRSABits) bits")
        }
        material = .publicKey(key, type: "RSA", curve: nil)
    }

    init(ecCurve curve: String, x: [UInt8], y: [UInt8]) throws(JWTError) {
        let size = curve == "P-256" ? 32 : 48
        guard x.count == size, y.count == size else { throw .malformed("an EC \(curve) key needs \(size)-byte coordinates") }
        let info = DER.sequence(
            DER.sequence(DER.ecPublicKey, curve == "P-256" ? DER.prime256v1 : DER.secp384r1),
            DER.bitString([0x04] + x + y))
        material = .publicKey(try Self.decode(info, what: "EC \(curve)"), type: "EC", curve: curve)
    }

    init(ed25519 x: [UInt8]) throws(JWTError) {
        guard x.count == 32, let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, x, x.count) else {
            throw .malformed("an Ed25519 key needs a 32-byte 'x'")
        }
        material = .publicKey(key, type: "OKP", curve: "Ed25519")
    }

    init(secret: [UInt8]) {
        material = .secret(secret)
    }

    deinit {
        if case .publicKey(let key, _, _) = material { EVP_PKEY_free(key) }
    }

    /// Whether this key can verify `algorithm` at all (RSA for RS256, P-256 for ES256, …).
    func fits(_ algorithm: JWTAlgorithm) -> Bool {
        switch material {
        case .publicKey(_, let type, let curve): type == algorithm.keyType && curve == algorithm.curve
        case .secret: algorithm == .hs256
        }
    }

    /// Whether `signature` is `algorithm`'s signature of `input` by this key.
    func verify(_ algorithm: JWTAlgorithm, input: [UInt8], signature: [UInt8]) -> Bool {
        switch material {
        case .secret(let secret):
            var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            guard HMAC(EVP_sha256(), secret, Int32(secret.count), input, input.count, &mac, &length) != nil,
                signature.count == Int(length)
            else { return false }
            return CRYPTO_memcmp(mac, signature, signature.count) == 0
        case .publicKey(let key, _, _):
            var der = signature
            if algorithm == .es256 || algorithm == .es384 {
                // JWS carries r and s side by side (RFC 7518 §3.4); OpenSSL wants ECDSA-Sig-Value.
                let size = algorithm == .es256 ? 32 : 48
                guard signature.count == 2 * size else { return false }
                der = DER.sequence(DER.integer(Array(signature[..<size])), DER.integer(Array(signature[size...])))
            }
            guard let context = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(context) }
            var keyContext: OpaquePointer?
            guard EVP_DigestVerifyInit(context, &keyContext, Self.digest(algorithm), nil, key) == 1 else { return false }
            if algorithm == .ps256 {
                // RSASSA-PSS with MGF1 and a salt as long as the digest (RFC 7518 §3.5).
                guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1
                else { return false }
            }
            return EVP_DigestVerify(context, der, der.count, input, input.count) == 1
        }
    }

    private static func digest(_ algorithm: JWTAlgorithm) -> OpaquePointer? {
        switch algorithm {
        case .rs256, .ps256, .es256, .hs256: EVP_sha256()
        case .rs384, .es384: EVP_sha384()
        case .rs512: EVP_sha512()
        case .edDSA: nil  // Ed25519 hashes internally (RFC 8032)
        }
    }

    private static func decode(_ info: [UInt8], what: String) throws(JWTError) -> OpaquePointer {
        let key: OpaquePointer? = info.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &pointer, buffer.count)
        }
        guard let key else {
            ERR_clear_error()
            throw .malformed("OpenSSL refused the \(what) key")
        }
        return key
    }
}

/// Just enough DER (X.690) for public keys and ECDSA signatures.
private enum DER {
    static let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    static let secp384r1: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]

    static func element(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        if content.count < 0x80 {
            length = [UInt8(content.count)]
        } else {
            var count = content.count
            while count > 0 {
                length.insert(UInt8(count & 0xFF), at: 0)
                count >>= 8
            }
            length.insert(0x80 | UInt8(length.count), at: 0)
        }
        return [tag] + length + content
    }

    static func sequence(_ elements: [UInt8]...) -> [UInt8] {
        element(0x30, elements.flatMap { $0 })
    }

    /// A non-negative INTEGER from big-endian magnitude bytes: minimal, with a 0 byte when the
    /// first bit would read as a sign.
    static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.first.map({ $0 & 0x80 != 0 }) ?? true { bytes.insert(0, at: 0) }
        return element(0x02, bytes)
    }

    static func bitString(_ content: [UInt8]) -> [UInt8] {
        element(0x03, [0x00] + content)
    }
}
