import Foundation
import FuzzTargets
import TestSupport
import XCTest

/// Every fuzz target over its committed seed corpus (Tests/Fuzz/corpus/<target>) and every input
/// that once crashed it (Tests/Fuzz/regressions/<target>): each must end without a crash, and
/// with the target's cross-checks holding.
final class FuzzCorpusTests: XCTestCase {
    func testEveryTargetReplaysItsCorpusAndRegressions() throws {
        let harness = try FuzzHarness(descriptorSet: ProtoCompiler.descriptorSet(for: "ferry/test/v1/rich.proto"))
        let fuzz = ProtoCompiler.root.appendingPathComponent("Tests/Fuzz")
        for target in FuzzTarget.allCases {
            var replayed = 0
            for kind in ["corpus", "regressions"] {
                let directory = fuzz.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
                let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
                for file in files.sorted(by: { $0.path < $1.path }) {
                    try Data(contentsOf: file).withUnsafeBytes { harness.run(target, $0) }
                    replayed += 1
                }
            }
            XCTAssertGreaterThan(replayed, 0, "no seed corpus for \(target.rawValue)")
        }
    }
}
