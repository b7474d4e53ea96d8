import FerryCore
import NodeService
@testable import OpenAPI
import Transcode
import XCTest

final class OpenAPIDocumentTests: XCTestCase {
    private func path(_ template: String) throws -> (String, [String]) {
        let path = OpenAPIDocument.openAPIPath(try PathTemplate(parsing: template))
        return (path.text, path.parameters.map { $0.joined(separator: ".") })
    }

    func testVariablesBecomePathParametersAndTheirLiteralsStayInThePath() throws {
        XCTAssertEqual(try path("/v1/nodes/{node_id}").0, "/v1/nodes/{node_id}")
        XCTAssertEqual(try path("/v1/{parent=shelves/*}/books").0, "/v1/shelves/{parent}/books")
        XCTAssertEqual(try path("/v1/files/{name=**}:download").0, "/v1/files/{name}:download")
        XCTAssertEqual(try path("/v1/a/{x.y}/b/{z}").0, "/v1/a/{x_y}/b/{z}")
        XCTAssertEqual(try path("/v1/a/{x.y}/b/{z}").1, ["x.y", "z"])
        // Wildcards outside variables are parameters of their own.
        XCTAssertEqual(try path("/v1/*/items").0, "/v1/{segment1}/items")
    }

    func testJSONTextIsEscapedAndOrdered() {
        let value = OrderedJSON.object([("b", .string("quote \" slash \\ tab \t \u{1}")), ("a", .array([.number(1), .bool(true)]))])
        XCTAssertEqual(
            value.serialized(),
            "{\n  \"b\": \"quote \\\" slash \\\\ tab \\t \\u0001\",\n  \"a\": [\n    1,\n    true\n  ]\n}\n")
    }
}

final class RequestTemplateTests: XCTestCase {
    func testEveryFieldAtItsZeroValueInItsJSONForm() throws {
        let pool = try DescriptorPool(serializedDescriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64)!)
        XCTAssertEqual(
            RequestTemplate.json(for: "node.v1.GetNodeRequest", pool: pool),
            "{\n  \"nodeId\": \"\",\n  \"echoPayload\": \"\"\n}")
        let node = RequestTemplate.json(for: "node.v1.Node", pool: pool)
        XCTAssert(node.contains("\"memoryBytes\": \"0\""), node)
        XCTAssert(node.contains("\"state\": \"NODE_STATE_UNSPECIFIED\""), node)
        XCTAssert(node.contains("\"labels\": []"), node)
        XCTAssert(node.contains("\"createdAt\": \"1970-01-01T00:00:00Z\""), node)
    }
}
