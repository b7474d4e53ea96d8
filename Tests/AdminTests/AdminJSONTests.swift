@testable import Admin
import XCTest

final class AdminJSONTests: XCTestCase {
    private struct Listener {
        var address = "127.0.0.1:8080"
        var privateKeyFile: String? = "/etc/ferry/key.pem"
        var idleTimeoutNanoseconds: UInt64 = 60_000_000_000
        var headerReadTimeoutNanoseconds: UInt64 = 1_500_000_000
        var maxTokens = 10
        var origins: [String] = ["https://a", "https://b"]
        var limits: [String: Int] = ["b": 2, "a": 1]
        var mode: Mode = .list(["x"])
        var absent: String?
    }

    private enum Mode {
        case any
        case list([String])
    }

    func testFieldsAreSnakeCaseWithDurationsAndSecretsRedacted() {
        let json = AdminJSON.encode(Listener())
        XCTAssertEqual(
            json,
            """
            {
              "address": "127.0.0.1:8080",
              "private_key_file": "[redacted]",
              "idle_timeout": "60s",
              "header_read_timeout": "1500ms",
              "max_tokens": 10,
              "origins": [
                "https://a",
                "https://b"
              ],
              "limits": {
                "a": 1,
                "b": 2
              },
              "mode": {
                "list": [
                  "x"
                ]
              },
              "absent": null
            }

            """)
    }

    func testEnumWithoutPayloadAndEscapes() {
        XCTAssertEqual(AdminJSON.encode(Mode.any), "\"any\"\n")
        XCTAssertEqual(AdminJSON.encode("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"\n")
        XCTAssertEqual(AdminJSON.duration(300_000_000), "300ms")
    }
}
