import TestSupport
@testable import Transcode
import XCTest

final class PathTemplateTests: XCTestCase {
    private func template(_ text: String) throws -> PathTemplate { try PathTemplate(parsing: text) }

    private func match(_ text: String, _ path: String) throws -> [String: String]? {
        try template(text).match(try RequestPath(parsing: path[...])).map { bindings in
            Dictionary(uniqueKeysWithValues: bindings.map { ($0.fieldPath.joined(separator: "."), $0.value) })
        }
    }

    func testParsesEveryKindOfSegment() throws {
        let parsed = try template("/v1/{name=shelves/*/books/**}:publish")
        XCTAssertEqual(parsed.segments, [.literal("v1"), .literal("shelves"), .single, .literal("books"), .multi])
        XCTAssertEqual(parsed.variables, [PathTemplate.Variable(fieldPath: ["name"], segments: 1..<5)])
        XCTAssertEqual(parsed.verb, "publish")
        let nested = try template("/v1/{shelf.id}/x/*")
        XCTAssertEqual(nested.variables, [PathTemplate.Variable(fieldPath: ["shelf", "id"], segments: 1..<2)])
        XCTAssertEqual(nested.segments, [.literal("v1"), .single, .literal("x"), .single])
    }

    func testRefusesMalformedTemplatesWithTheOffset() {
        let cases: [(String, Int, String)] = [
            ("v1/x", 0, "a template starts with '/'"),
            ("/v1/{a={b}}", 7, "variables cannot nest"),
            ("/v1/{a", 6, "expected '}'"),
            ("/v1/{}", 5, "expected a field name"),
            ("/v1/{1a}", 5, "expected a field name"),
            ("/v1/**/x", 0, "'**' must be the last segment"),
            ("/v1/x:", 6, "empty verb"),
            ("/v1//x", 4, "expected a segment"),
            ("/v1/x}", 5, "unexpected '}'"),
        ]
        for (text, offset, reason) in cases {
            XCTAssertThrowsError(try PathTemplate(parsing: text), text) { error in
                XCTAssertEqual(error as? PathTemplateError, PathTemplateError(template: text, offset: offset, reason: reason), text)
            }
        }
    }

    func testMatchesLiteralsAndSingleVariables() throws {
        XCTAssertEqual(try match("/v1/nodes/{node_id}", "/v1/nodes/n1"), ["node_id": "n1"])
        XCTAssertNil(try match("/v1/nodes/{node_id}", "/v1/nodes"))
        XCTAssertNil(try match("/v1/nodes/{node_id}", "/v1/nodes/"))
        XCTAssertNil(try match("/v1/nodes/{node_id}", "/v1/nodes/n1/x"))
        XCTAssertNil(try match("/v1/nodes/{node_id}", "/v2/nodes/n1"))
        XCTAssertEqual(try match("/v1/a/{x=*}", "/v1/a/b"), ["x": "b"])
    }

    func testMultiSegmentVariablesAndDoubleWildcard() throws {
        XCTAssertEqual(try match("/v1/{name=shelves/*}", "/v1/shelves/s1"), ["name": "shelves/s1"])
        XCTAssertNil(try match("/v1/{name=shelves/*}", "/v1/books/s1"))
        XCTAssertEqual(try match("/v1/{path=**}", "/v1/a/b/c"), ["path": "a/b/c"])
        XCTAssertEqual(try match("/v1/{path=**}", "/v1"), ["path": ""])
        XCTAssertEqual(try match("/files/**", "/files/x/y"), [:])
    }

    func testCustomVerbs() throws {
        XCTAssertEqual(try match("/v1/{name=nodes/*}:restart", "/v1/nodes/n1:restart"), ["name": "nodes/n1"])
        XCTAssertNil(try match("/v1/{name=nodes/*}:restart", "/v1/nodes/n1:stop"))
        XCTAssertNil(try match("/v1/{name=nodes/*}:restart", "/v1/nodes/n1"))
        XCTAssertEqual(try match("/v1/{name}", "/v1/a:b"), ["name": "a:b"])
        // A verb is compared decoded, as literal segments are (found by fuzzing).
        XCTAssertEqual(try match("/v1/{name}:e)ho", "/v1/x:e%29ho"), ["name": "x"])
    }

    /// http.proto: one-segment variables are fully decoded; several-segment ones keep %2F.
    func testPercentDecodingFollowsTheSpec() throws {
        XCTAssertEqual(try match("/v1/{id}", "/v1/a%2Fb%20c"), ["id": "a/b c"])
        XCTAssertEqual(try match("/v1/{name=**}", "/v1/a%2Fb/c%20d"), ["name": "a%2Fb/c d"])
        XCTAssertEqual(try match("/v1/{id}", "/v1/%C3%A9t%C3%A9"), ["id": "été"])
        XCTAssertEqual(try match("/v%31/{id}", "/v1/x"), nil, "template literals are not decoded")
        XCTAssertEqual(try match("/v1/{id}", "/v%31/x"), ["id": "x"], "path literals are")
    }

    func testRefusesBadEncodingInRequestPaths() {
        XCTAssertThrowsError(try RequestPath(parsing: "/v1/a%2")) { error in
            XCTAssertEqual(error as? RequestPathError, RequestPathError(offset: 5, reason: "'%' is not followed by two hex digits"))
        }
        XCTAssertThrowsError(try RequestPath(parsing: "/v1/%zz")) { error in
            XCTAssertEqual((error as? RequestPathError)?.offset, 4)
        }
        XCTAssertThrowsError(try RequestPath(parsing: "/v1/%FF")) { error in
            XCTAssertEqual(error as? RequestPathError, RequestPathError(offset: 4, reason: "percent-encoded bytes are not UTF-8"))
        }
        XCTAssertThrowsError(try RequestPath(parsing: "v1")) { error in
            XCTAssertEqual((error as? RequestPathError)?.offset, 0)
        }
    }

    /// A template's variables always cover the segments they match: re-joining the bindings
    /// and literals gives back the (decoded) path, for random paths and templates (seeded).
    func testBindingsCoverTheMatchedSegments() throws {
        var random = SeededGenerator(state: 2026)
        let words = ["a", "bb", "nodes", "x%20y", "v1"]
        for _ in 0..<500 {
            let count = Int.random(in: 1...5, using: &random)
            let pathSegments = (0..<count).map { _ in words.randomElement(using: &random)! }
            var templateSegments: [String] = []
            for (index, segment) in pathSegments.enumerated() {
                switch Int.random(in: 0...2, using: &random) {
                case 0: templateSegments.append(segment.replacingOccurrences(of: "%20", with: "_"))
                case 1: templateSegments.append("{f\(index)}")
                default: templateSegments.append("*")
                }
            }
            let path = "/" + pathSegments.joined(separator: "/")
            let text = "/" + templateSegments.joined(separator: "/")
            let bindings = try match(text, path)
            let literalsMatch = zip(pathSegments, templateSegments).allSatisfy { path, template in
                template.hasPrefix("{") || template == "*" || template == path.replacingOccurrences(of: "%20", with: " ")
            }
            XCTAssertEqual(bindings != nil, literalsMatch, "\(text) vs \(path)")
            guard let bindings else { continue }
            for (index, segment) in pathSegments.enumerated() where templateSegments[index].hasPrefix("{") {
                XCTAssertEqual(bindings["f\(index)"], segment.replacingOccurrences(of: "%20", with: " "))
            }
        }
    }
}

final class RESTRouteTableTests: XCTestCase {
    private func table(_ rules: [(String, String, String)]) throws -> RESTRouteTable<String> {
        var table = RESTRouteTable<String>()
        for (verb, template, owner) in rules {
            try table.add(verb: verb, template: try PathTemplate(parsing: template), owner: owner, target: owner)
        }
        return table
    }

    private func lookup(_ table: RESTRouteTable<String>, _ verb: String, _ path: String) throws -> String {
        switch table.lookup(verb: verb, path: try RequestPath(parsing: path[...])) {
        case .matched(let target, let bindings):
            return ([target] + bindings.map { "\($0.fieldPath.joined(separator: "."))=\($0.value)" }).joined(separator: " ")
        case .methodNotAllowed(let allowed): return "405 " + allowed.joined(separator: ",")
        case .notFound: return "404"
        }
    }

    func testVerbPathAndSpecificity() throws {
        let table = try table([
            ("GET", "/v1/nodes/{id}", "Get"),
            ("DELETE", "/v1/nodes/{id}", "Delete"),
            ("GET", "/v1/nodes/special", "Special"),
            ("POST", "/v1/nodes/{id}:restart", "Restart"),
            ("GET", "/v1/{rest=**}", "CatchAll"),
        ])
        XCTAssertEqual(try lookup(table, "GET", "/v1/nodes/n1"), "Get id=n1")
        XCTAssertEqual(try lookup(table, "GET", "/v1/nodes/special"), "Special")
        XCTAssertEqual(try lookup(table, "DELETE", "/v1/nodes/n1"), "Delete id=n1")
        XCTAssertEqual(try lookup(table, "POST", "/v1/nodes/n1:restart"), "Restart id=n1")
        XCTAssertEqual(try lookup(table, "GET", "/v1/other/thing"), "CatchAll rest=other/thing")
        XCTAssertEqual(try lookup(table, "PUT", "/v1/nodes/n1"), "405 GET,DELETE")
        XCTAssertEqual(try lookup(table, "GET", "/v2/nodes"), "404")
    }

    func testSameVerbAndShapeIsAConflictNamingBothMethods() throws {
        XCTAssertThrowsError(try table([("GET", "/v1/nodes/{id}", "a.S.Get"), ("GET", "/v1/nodes/{name}", "a.S.Other")])) { error in
            XCTAssertEqual(
                error as? RESTRouteConflict,
                RESTRouteConflict(verb: "GET", template: "/v1/nodes/{name}", first: "a.S.Get", second: "a.S.Other"))
        }
        XCTAssertNoThrow(
            try table([
                ("GET", "/v1/nodes/{id}", "a"), ("POST", "/v1/nodes/{id}", "b"),
                ("GET", "/v1/nodes/{id}:x", "c"),
            ]))
    }
}
