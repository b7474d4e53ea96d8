@testable import Config
import XCTest

final class YAMLComposerTests: XCTestCase {
    func testBlockAndFlowCollections() throws {
        let node = try XCTUnwrap(
            try YAMLComposer.compose(
                """
                a: 1
                b: [x, "y"]
                c: { d: e }
                list:
                  - one
                  - two
                """))
        guard case .mapping(let entries) = node else { return XCTFail("expected a mapping") }
        XCTAssertEqual(entries.map(\.key), ["a", "b", "c", "list"])
        guard case .sequence(let flow) = entries[1].value, case .scalar("y", plain: false) = flow[1] else {
            return XCTFail("expected a flow sequence with a quoted scalar")
        }
        guard case .sequence(let block) = entries[3].value else { return XCTFail("expected a block sequence") }
        XCTAssertEqual(block.count, 2)
    }

    func testPlainNullIsNullButQuotedNullIsAString() throws {
        let node = try XCTUnwrap(try YAMLComposer.compose("a: null\nb: ~\nc:\nd: 'null'\n"))
        guard case .mapping(let entries) = node else { return XCTFail("expected a mapping") }
        XCTAssertEqual(entries.map(\.value.isNull), [true, true, true, false])
    }

    /// Hostile YAML is an error, not a stack overflow (found by fuzzing) or an exponential tree.
    func testDeepNestingAndAliasBombsAreRefused() {
        XCTAssertThrowsError(
            try YAMLComposer.compose("a: " + String(repeating: "{b: ", count: 10_000) + "c" + String(repeating: "}", count: 10_000))
        ) { error in
            XCTAssertTrue("\(error)".contains("nested deeper than 64 levels"), "\(error)")
        }
        XCTAssertNoThrow(try YAMLComposer.compose("a: " + String(repeating: "[", count: 30) + String(repeating: "]", count: 30)))
        var laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            laughs += "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        XCTAssertThrowsError(try YAMLComposer.compose(laughs)) { error in
            XCTAssertTrue("\(error)".contains("more than 100000 nodes with aliases expanded"), "\(error)")
        }
    }

    func testAliasesResolveToTheAnchoredNode() throws {
        let node = try XCTUnwrap(try YAMLComposer.compose("base: &endpoints [127.0.0.1:1]\ncopy: *endpoints\n"))
        guard case .mapping(let entries) = node, case .sequence(let copy) = entries[1].value,
            case .scalar("127.0.0.1:1", _) = copy[0]
        else {
            return XCTFail("expected the alias to resolve")
        }
    }

    func testErrorsCarryTheLineAndColumn() {
        XCTAssertThrowsError(try YAMLComposer.compose("a: 1\nb: [unclosed\n")) { error in
            XCTAssertEqual((error as? YAMLError)?.line, 3)
        }
        XCTAssertThrowsError(try YAMLComposer.compose("a: 1\na: 2\n")) { error in
            XCTAssertEqual(error as? YAMLError, YAMLError(reason: "duplicate key 'a'", line: 2, column: 1))
        }
        XCTAssertThrowsError(try YAMLComposer.compose("a: *nowhere\n")) { error in
            XCTAssertEqual((error as? YAMLError)?.reason, "unknown alias '*nowhere'")
        }
    }

    func testEmptyDocumentIsNil() throws {
        XCTAssertNil(try YAMLComposer.compose(""))
        XCTAssertNil(try YAMLComposer.compose("# only a comment\n"))
    }
}
