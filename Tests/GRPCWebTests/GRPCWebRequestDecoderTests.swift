import FerryCore
import GRPCWeb
import XCTest

final class GRPCWebRequestDecoderTests: XCTestCase {
    let binary = GRPCWebContentType(isText: false, format: "proto")
    let text = GRPCWebContentType(isText: true, format: nil)
    /// The listener's default (`limits.grpc_encodings`).
    let forwarded = ["identity", "gzip", "deflate"]

    func testBinaryBodyPassesThroughUnchanged() throws {
        var decoder = GRPCWebRequestDecoder(contentType: binary, messageEncoding: nil, maxMessageBytes: 100, acceptedEncodings: forwarded)
        let body: [UInt8] = [0, 0, 0, 0, 2, 0x08, 0x01]
        try decoder.append(Array(body[0..<3]))
        try decoder.append(Array(body[3...]))
        XCTAssertEqual(try decoder.finish(), body)
    }

    func testTextBodyIsDecoded() throws {
        var decoder = GRPCWebRequestDecoder(contentType: text, messageEncoding: nil, maxMessageBytes: 100, acceptedEncodings: forwarded)
        try decoder.append(Array("AAAAAAQKAm4x".utf8))
        XCTAssertEqual(try decoder.finish(), [0, 0, 0, 0, 4, 0x0A, 0x02, 0x6E, 0x31])
    }

    func testTrailerFlagIsRefused() {
        var decoder = GRPCWebRequestDecoder(contentType: binary, messageEncoding: nil, maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try decoder.append([0x80, 0, 0, 0, 0])) { error in
            guard case .invalidFrames(let status) = error as? GRPCWebRequestError else { return XCTFail() }
            XCTAssertEqual(status.code, .internal)
        }
    }

    func testCompressedFlagNeedsEncoding() throws {
        var refused = GRPCWebRequestDecoder(contentType: binary, messageEncoding: nil, maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try refused.append([0x01, 0, 0, 0, 1, 7]))
        var identity = GRPCWebRequestDecoder(
            contentType: binary, messageEncoding: "identity", maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try identity.append([0x01, 0, 0, 0, 1, 7]))
        var gzip = GRPCWebRequestDecoder(contentType: binary, messageEncoding: "gzip", maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertNoThrow(try gzip.append([0x01, 0, 0, 0, 1, 7]))
    }

    func testReservedFlagBitsAreRefused() {
        for flags: UInt8 in [0x02, 0x03, 0x40, 0x7E] {
            var decoder = GRPCWebRequestDecoder(
                contentType: binary, messageEncoding: "gzip", maxMessageBytes: 100, acceptedEncodings: forwarded)
            XCTAssertThrowsError(try decoder.append([flags, 0, 0, 0, 0])) { error in
                guard case .invalidFrames(let status) = error as? GRPCWebRequestError else { return XCTFail() }
                XCTAssertEqual(status.code, .internal)
                XCTAssertTrue(status.message.contains("reserved flag bits"), status.message)
            }
        }
    }

    func testCompressedFrameInAnEncodingNotAcceptedIsUnsupported() {
        var brotli = GRPCWebRequestDecoder(contentType: binary, messageEncoding: "br", maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try brotli.append([0x01, 0, 0, 0, 1, 7])) { error in
            XCTAssertEqual(error as? GRPCWebRequestError, .unsupportedEncoding("br", accepted: forwarded))
        }
        var onlyIdentity = GRPCWebRequestDecoder(
            contentType: binary, messageEncoding: "gzip", maxMessageBytes: 100,
            acceptedEncodings: ["identity"])
        XCTAssertThrowsError(try onlyIdentity.append([0x01, 0, 0, 0, 1, 7])) { error in
            XCTAssertEqual(error as? GRPCWebRequestError, .unsupportedEncoding("gzip", accepted: ["identity"]))
        }
        // An uncompressed message is fine whatever the header says.
        var uncompressed = GRPCWebRequestDecoder(
            contentType: binary, messageEncoding: "br", maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertNoThrow(try uncompressed.append([0x00, 0, 0, 0, 1, 7]))
    }

    func testOversizedMessageIsResourceExhausted() {
        var decoder = GRPCWebRequestDecoder(contentType: binary, messageEncoding: nil, maxMessageBytes: 3, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try decoder.append([0, 0, 0, 0, 4])) { error in
            guard case .invalidFrames(let status) = error as? GRPCWebRequestError else { return XCTFail() }
            XCTAssertEqual(status.code, .resourceExhausted)
        }
    }

    func testBadBase64IsReportedAsSuch() {
        var decoder = GRPCWebRequestDecoder(contentType: text, messageEncoding: nil, maxMessageBytes: 100, acceptedEncodings: forwarded)
        XCTAssertThrowsError(try decoder.append(Array("AA!A".utf8))) { error in
            guard case .invalidBase64 = error as? GRPCWebRequestError else { return XCTFail() }
        }
    }
}
