// Settings files that are YAML but not a mapping of setting names to values (found by
// Fuzz/LorikeetFuzz's FuzzTrainingSettings): each is a TrainingError naming the file, never
// a trap inside Yams' constructor or an alias expansion without end.
import Foundation
import XCTest
@testable import FineTuning

final class TrainingSettingsYAMLTests: XCTestCase {
    func assertInvalid(_ yaml: String, _ reason: String, line: UInt = #line) {
        XCTAssertThrowsError(try TrainingSettings(yaml: yaml, path: "run.yaml"), line: line) { error in
            guard case .invalidSetting(_, let source, let r)? = error as? TrainingError else {
                return XCTFail("expected TrainingError.invalidSetting, got \(error)", line: line)
            }
            XCTAssertTrue(source?.hasPrefix("run.yaml") == true, source ?? "no source", line: line)
            XCTAssertTrue(r.contains(reason), r, line: line)
        }
    }

    func testPlainFileStillLoads() throws {
        let s = try TrainingSettings(yaml: "method: lora\nrank: 8\nrank-pattern: &p {q_proj: 4}\nalpha-pattern: *p\n", path: "run.yaml")
        XCTAssertEqual(s.location(of: "rank"), "run.yaml:2")
        let c = try TrainingConfiguration.resolve(file: s)
        XCTAssertEqual(c.rankPattern, ["q_proj": 4])
        XCTAssertEqual(c.alphaPattern, ["q_proj": 4])
    }

    /// The fuzzer's input: a flow mapping used as a key (`{"bas…": …}: 1.0`) hit a force unwrap
    /// in Yams' Dictionary construction.
    func testFuzzedMappingKeyThrows() throws {
        let url = TestModels.fixtures.appendingPathComponent("fuzz/settings_mapping_key.yaml")
        assertInvalid(String(decoding: try Data(contentsOf: url), as: UTF8.self), "as a key")
    }

    func testNonScalarKeysThrow() {
        assertInvalid("{a: 1}: 2\n", "as a key")
        assertInvalid("[rank]: 8\n", "as a key")
        assertInvalid("rank-pattern:\n  ? [x, y]\n  : 4\n", "as a key")
        assertInvalid("base: &m {[k]: 1}\nmethod: lora\n<<: *m\n", "as a key")
    }

    func testAliasBombThrows() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...8 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        assertInvalid(yaml, "more than")
    }

    /// Found by probing the fuzz target: Yams' composer recursed once per level and overflowed
    /// the stack on [[[[… and - - - - … some ten thousand deep.
    func testDeepNestingThrows() {
        assertInvalid(String(repeating: "[", count: 100_000), "more than")
        assertInvalid("rank-pattern: " + String(repeating: "{a: ", count: 5000) + "1" + String(repeating: "}", count: 5000), "more than")
        assertInvalid(String(repeating: "- ", count: 50_000) + "x", "more than")
        assertInvalid((0..<300).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n"), "more than")
    }

    /// The fuzzer's second input: `[4444444444944444444:40, 01]`, a YAML 1.1 base-60 integer,
    /// overflowed Yams' Int arithmetic (a trap); so does any with 11 or more parts.
    func testHugeBase60IntegersThrow() throws {
        let url = TestModels.fixtures.appendingPathComponent("fuzz/settings_base60_overflow.yaml")
        assertInvalid(String(decoding: try Data(contentsOf: url), as: UTF8.self), "base-60")
        assertInvalid("seed: " + Array(repeating: "1", count: 12).joined(separator: ":") + "\n", "base-60")
        assertInvalid("seed: -9223372036854775807:59\n", "base-60")
        XCTAssertEqual(try TrainingConfiguration.resolve(file: TrainingSettings(yaml: "seed: 1:30\n", path: "run.yaml")).seed, 90)
        XCTAssertNoThrow(try TrainingSettings(yaml: "targets: ['4444444444944444444:40']\n", path: "run.yaml"))
    }
}
