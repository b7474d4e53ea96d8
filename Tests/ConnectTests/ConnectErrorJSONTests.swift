import Connect
import FerryCore
import NodeService
import Transcode
import XCTest

final class ConnectErrorJSONTests: XCTestCase {
    private static let transcoder = try! RESTTranscoding(
        descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64)!, services: ["node.v1.NodeService"],
        printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions()
    ).transcoder

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func fields(_ pairs: (String, String)...) -> HeaderFields {
        var fields = HeaderFields()
        for (name, value) in pairs { fields.append(name: name, value: value) }
        return fields
    }

    func testCodeAndMessage() {
        let errors = ConnectErrorJSON(transcoder: nil)
        XCTAssertEqual(text(errors.error(GRPCStatus(.notFound, "no \"x\""))), #"{"code":"not_found","message":"no \"x\""}"#)
        XCTAssertEqual(text(errors.error(GRPCStatus(.cancelled, ""))), #"{"code":"canceled"}"#)
    }

    /// google.rpc.Status { details: [Any { type_url, value }] } in wire format.
    private func status(details: [(String, [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (typeURL, value) in details {
            let any = [0x0A, UInt8(typeURL.utf8.count)] + Array(typeURL.utf8) + [0x12, UInt8(value.count)] + value
            bytes += [0x1A, UInt8(any.count)] + any
        }
        return bytes
    }

    func testDetailsHaveTypeUnpaddedValueAndDebugWhenTheTypeIsKnown() {
        let details = status(details: [
            ("type.googleapis.com/node.v1.GetNodeRequest", [0x0A, 0x01, 0x61]),
            ("type.googleapis.com/google.rpc.ErrorInfo", [0x0A, 0x03, 0x62, 0x61, 0x64]),
        ])
        XCTAssertEqual(
            text(ConnectErrorJSON(transcoder: Self.transcoder).error(GRPCStatus(.invalidArgument, "bad"), details: details)),
            #"{"code":"invalid_argument","message":"bad","details":[{"type":"node.v1.GetNodeRequest","value":"CgFh","debug":{"nodeId":"a"}},{"type":"google.rpc.ErrorInfo","value":"CgNiYWQ"}]}"#
        )
    }

    func testEndStreamOfASuccessIsMetadataOnly() {
        let errors = ConnectErrorJSON(transcoder: nil)
        XCTAssertEqual(text(errors.endStream(GRPCStatus(.ok, ""), metadata: HeaderFields())), "{}")
        XCTAssertEqual(
            text(errors.endStream(GRPCStatus(.ok, ""), metadata: fields(("X-A", "1"), ("x-b", "2"), ("x-a", "3")))),
            #"{"metadata":{"x-a":["1","3"],"x-b":["2"]}}"#)
    }

    func testEndStreamOfAFailure() {
        XCTAssertEqual(
            text(ConnectErrorJSON(transcoder: nil).endStream(GRPCStatus(.unavailable, "overloaded"), metadata: fields(("x-a", "1")))),
            #"{"error":{"code":"unavailable","message":"overloaded"},"metadata":{"x-a":["1"]}}"#)
    }
}
