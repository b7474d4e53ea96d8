import Auth
import XCTest

/// Tokens and keys from PyJWT and jwcrypto (JWTFixtures, scripts/generate-jwt-fixtures).
final class JWTProviderTests: XCTestCase {
    private static let set = try! JSONWebKey.set(parsing: Array(JWTFixtures.jwks.utf8))
    private let provider = JWTProvider(
        name: "corp", issuer: "https://idp.example", audiences: ["ferry"], clockSkewSeconds: 60, keys: set.keys)
    /// Inside the fixtures' validity (nbf 1,800,000,000, exp 1,800,003,600).
    private let now = 1_800_000_100.0

    private func verify(_ token: String, with provider: JWTProvider? = nil, at time: Double? = nil) throws -> VerifiedToken {
        try (provider ?? self.provider).verify(token[...], now: time ?? now)
    }

    private func refusal(_ token: String, with provider: JWTProvider? = nil, at time: Double? = nil) -> JWTError? {
        do {
            _ = try verify(token, with: provider, at: time)
            return nil
        } catch {
            return error as? JWTError
        }
    }

    func testTheSetKeepsTheKeysFerryVerifiesWithAndSaysWhichItRefused() {
        XCTAssertEqual(Self.set.keys.map(\.keyID), ["rsa-1", "ec-256", "ec-384", "ed-1"])
        XCTAssertEqual(Self.set.refused.count, 1)
        XCTAssertTrue(Self.set.refused[0].hasPrefix("key 'rsa-small': "), Self.set.refused[0])
        XCTAssertTrue(Self.set.refused[0].contains("2048 bits"), Self.set.refused[0])
    }

    func testEveryAlgorithmVerifies() throws {
        for (name, token) in [
            ("RS256", JWTFixtures.rs256), ("RS384", JWTFixtures.rs384), ("RS512", JWTFixtures.rs512),
            ("PS256", JWTFixtures.ps256), ("ES256", JWTFixtures.es256), ("ES384", JWTFixtures.es384),
            ("EdDSA", JWTFixtures.edDSA), ("ES256 without kid", JWTFixtures.noKid),
        ] {
            let verified = try verify(token)
            XCTAssertEqual(verified.claims["sub"]?.stringValue, "user-7", name)
            XCTAssertEqual(verified.expiry, 1_800_003_660, name)
        }
    }

    func testForgedAndUnsignedTokensAreRefused() {
        XCTAssertEqual(refusal(JWTFixtures.forged), .badSignature)
        XCTAssertEqual(refusal(JWTFixtures.none), .unsupportedAlgorithm("none"))
        XCTAssertEqual(refusal(JWTFixtures.unknownKid), .unknownKey("rotated-away"))
        // An HMAC token against public keys: no key of the set fits HS256 (the "alg confusion" attack).
        XCTAssertEqual(refusal(JWTFixtures.hs256)?.reason, "unknown_key")
        // A signature altered by one bit.
        var tampered = Array(JWTFixtures.es256.utf8)
        tampered[tampered.count - 3] = tampered[tampered.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertEqual(refusal(String(decoding: tampered, as: UTF8.self)), .badSignature)
    }

    func testAnAlgorithmThatDoesNotFitTheKeyIsRefused() throws {
        // The RSA key's token, relabelled ES256 in its header: the key cannot verify it.
        let parts = JWTFixtures.rs256.split(separator: ".")
        let header = #"{"alg":"ES256","kid":"rsa-1","typ":"JWT"}"#
        let relabelled = [base64URL(Array(header.utf8)), String(parts[1]), String(parts[2])].joined(separator: ".")
        XCTAssertEqual(refusal(relabelled)?.reason, "key_mismatch")
    }

    func testClaimsChecks() {
        XCTAssertEqual(refusal(JWTFixtures.otherIssuer), .wrongIssuer)
        XCTAssertEqual(refusal(JWTFixtures.otherAudience), .wrongAudience)
        XCTAssertEqual(refusal(JWTFixtures.rs256, at: 1_800_003_600 + 61), .expired)
        XCTAssertNil(refusal(JWTFixtures.rs256, at: 1_800_003_600 + 59), "within the clock skew")
        XCTAssertEqual(refusal(JWTFixtures.rs256, at: 1_800_000_000 - 61), .notYetValid)
        XCTAssertNil(refusal(JWTFixtures.rs256, at: 1_800_000_000 - 59))
        let anyone = JWTProvider(name: "open", issuer: nil, audiences: [], clockSkewSeconds: 0, keys: Self.set.keys)
        XCTAssertNil(refusal(JWTFixtures.otherIssuer, with: anyone))
        XCTAssertNil(refusal(JWTFixtures.otherAudience, with: anyone))
    }

    func testASharedSecretVerifiesHS256Only() {
        let shared = JWTProvider(
            name: "shared", issuer: nil, audiences: [], clockSkewSeconds: 0,
            keys: [JSONWebKey(secret: Array("a-shared-secret-of-32-bytes-or-more!".utf8), keyID: "shared")])
        XCTAssertNil(refusal(JWTFixtures.hs256, with: shared))
        let wrong = JWTProvider(
            name: "wrong", issuer: nil, audiences: [], clockSkewSeconds: 0,
            keys: [JSONWebKey(secret: Array("another-secret-of-32-bytes-or-more!!".utf8), keyID: "shared")])
        XCTAssertEqual(refusal(JWTFixtures.hs256, with: wrong), .badSignature)
    }

    func testMalformedTokens() {
        for token in ["", "a.b", "a.b.c.d", "!!!.e30.", "e30.e30.+/==", "W10.e30.", "e30.eyJhIjoxLCJhIjoyfQ."] {
            XCTAssertEqual(refusal(token)?.reason, "malformed", token)
        }
        XCTAssertEqual(refusal(String(repeating: "a", count: 20_000)), .tooLarge(limit: 16 * 1024))
    }

    private func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let group = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0...chunk.count { out.append(alphabet[Int(group >> (18 - 6 * UInt32(position)) & 0x3F)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
