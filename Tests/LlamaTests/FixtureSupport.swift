// Locating and reading the reference fixtures written by scripts/make_llama_fixtures.py
// (transformers, float32), and the SmolLM2 test model fetched by scripts/fetch-smollm2.sh.
import XCTest
import Foundation
import TensorCore
import ModelFormats

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent(relative))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func tensors(_ relative: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: folder.appendingPathComponent(relative).path)
    }

    /// The SmolLM2 GGUF, or a skip when it has not been fetched.
    static func smolLM2() throws -> String {
        let env = ProcessInfo.processInfo.environment["LORIKEET_SMOLLM2"]
        let path = env ?? repoRoot.appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("SmolLM2 GGUF not found at \(path): run scripts/fetch-smollm2.sh")
        }
        return path
    }
}

/// |a − b| ≤ rtol · max|b| for every element: "within rtol relative" of the reference's scale.
func assertRelativeClose(_ a: [Float], _ b: [Float], rtol: Float, _ message: String = "",
                         file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    guard a.count == b.count else { return }
    let scale = b.reduce(0) { max($0, abs($1)) }
    var worst: Float = 0, at = 0
    for i in a.indices where abs(a[i] - b[i]) > worst { worst = abs(a[i] - b[i]); at = i }
    XCTAssertLessThanOrEqual(worst, rtol * scale,
                             "max difference \(worst) at \(at) (\(a[at]) vs \(b[at])), scale \(scale) \(message)", file: file, line: line)
}
