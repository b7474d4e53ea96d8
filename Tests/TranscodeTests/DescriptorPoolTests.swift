import SwiftProtobuf
import Transcode
import XCTest

final class DescriptorPoolTests: XCTestCase {
    func testLowerCamelIsProtobufsDefaultJSONName() {
        func jsonName(_ name: String, json: String? = nil) -> String {
            DescriptorPool.jsonName(
                of: Google_Protobuf_FieldDescriptorProto.with {
                    $0.name = name
                    if let json { $0.jsonName = json }
                })
        }
        XCTAssertEqual(jsonName("f_nested_note"), "fNestedNote")
        XCTAssertEqual(jsonName("id"), "id")
        XCTAssertEqual(jsonName("id", json: "ID"), "ID", "json_name wins")
    }
}
