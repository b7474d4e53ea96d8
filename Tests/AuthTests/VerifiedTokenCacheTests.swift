import Auth
import XCTest

final class VerifiedTokenCacheTests: XCTestCase {
    private static let keys = try! JSONWebKey.set(parsing: Array(JWTFixtures.jwks.utf8)).keys
    private let provider = JWTProvider(
        name: "corp", issuer: "https://idp.example", audiences: ["ferry"], clockSkewSeconds: 0, keys: keys)
    private let now = 1_800_000_100.0

    func testARepeatedTokenIsServedFromTheCacheUntilItExpires() throws {
        let cache = VerifiedTokenCache()
        XCTAssertEqual(try cache.verify(bytes(JWTFixtures.es256), with: provider, now: now).claims["sub"]?.stringValue, "user-7")
        XCTAssertEqual(cache.count, 1)
        // A provider without the key would refuse it: a hit means no signature check was made.
        let keyless = JWTProvider(name: "corp", issuer: nil, audiences: [], clockSkewSeconds: 0, keys: [])
        XCTAssertNoThrow(try cache.verify(bytes(JWTFixtures.es256), with: keyless, now: now + 60))
        // Past its exp (1,800,003,600), the cached token is verified again, and refused.
        XCTAssertThrowsError(try cache.verify(bytes(JWTFixtures.es256), with: provider, now: 1_800_003_601)) { error in
            XCTAssertEqual(error as? JWTError, .expired)
        }
        XCTAssertEqual(cache.count, 0)
    }

    func testTheCacheIsPerIssuer() {
        let cache = VerifiedTokenCache()
        XCTAssertNoThrow(try cache.verify(bytes(JWTFixtures.rs256), with: provider, now: now))
        let other = JWTProvider(name: "other", issuer: nil, audiences: [], clockSkewSeconds: 0, keys: [])
        XCTAssertThrowsError(try cache.verify(bytes(JWTFixtures.rs256), with: other, now: now))
    }

    func testRefusedTokensAreNotKeptAndTheTableIsBounded() throws {
        let cache = VerifiedTokenCache(capacity: 2)
        XCTAssertThrowsError(try cache.verify(bytes(JWTFixtures.forged), with: provider, now: now))
        XCTAssertEqual(cache.count, 0)
        for token in [JWTFixtures.rs256, JWTFixtures.rs384, JWTFixtures.rs512, JWTFixtures.ps256] {
            _ = try cache.verify(bytes(token), with: provider, now: now)
            XCTAssertLessThanOrEqual(cache.count, 2)
        }
    }
}

/// A token as the request's header bytes.
private func bytes(_ token: String) -> ArraySlice<UInt8> {
    Array(token.utf8)[...]
}
