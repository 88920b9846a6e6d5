// Gemma-3-270M (base model, Q4_K_M GGUF from scripts/fetch-gemma3.sh) against transformers
// loading the same file in float32 (scripts/check_gemma3_reference.py wrote the numbers):
// tokenizer ids, per-token losses, last-position logits, greedy decoding through the KV
// cache across sliding and global layers. Skipped when the GGUF has not been fetched.
import XCTest
import Foundation
import TensorCore
import ChatTemplates
@testable import Llama

final class GemmaGGUFTests: XCTestCase {
    nonisolated(unsafe) static var cached: LoadedModel?

    func loaded() throws -> LoadedModel {
        if let m = Self.cached { return m }
        let env = ProcessInfo.processInfo.environment["LORIKEET_GEMMA3"]
        let path = env ?? Fixtures.repoRoot.appendingPathComponent("cache/gemma3/gemma-3-270m-q4_k_m.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("Gemma 3 GGUF not found at \(path): run scripts/fetch-gemma3.sh")
        }
        let m = try ModelLoader.load(path)
        Self.cached = m
        return m
    }

    func testConfigurationFromGGUF() throws {
        let c = try loaded().model.configuration
        XCTAssertEqual(c.modelType, "gemma3")
        XCTAssertEqual([c.hiddenSize, c.layerCount, c.attentionHeads, c.kvHeads, c.headDim, c.vocabularySize],
                       [640, 18, 4, 1, 256, 262_144])
        XCTAssertEqual(c.gemma?.slidingWindow, 512)
        XCTAssertEqual(c.gemma?.slidingLayers.enumerated().filter { !$0.element }.map(\.offset), [5, 11, 17])
        XCTAssertTrue(c.tieWordEmbeddings)
    }

    func testTokensLossesAndLogitsMatchTransformers() throws {
        let m = try loaded()
        let meta = try Fixtures.json("gemma3_reference.json")
        for case let entry as [String: Any] in meta["texts"] as! [Any] {
            let kind = entry["kind"] as! String
            let ids = m.tokenizer.encode(entry["text"] as! String)
            XCTAssertEqual(ids, entry["ids"] as! [Int], "\(kind) ids")
            let x = ids.map { Int32($0) }
            let tape = Tape(recordsGradients: false)
            let logits = tape.value(try m.model.logits(tape, ids: x, batch: 1, length: x.count))
            let v = m.model.configuration.vocabularySize
            let last = Array(logits.floats[((x.count - 1) * v)...])
            let top = (entry["last_top5_ids"] as! [Int])
            XCTAssertEqual(Array(last.indices.sorted { last[$0] > last[$1] }.prefix(5)), top, "\(kind) top-5")
            for (id, ref) in zip(top, entry["last_top5_logits"] as! [Double]) {
                XCTAssertEqual(Double(last[id]), ref, accuracy: 1e-4 * max(1, abs(ref)), "\(kind) logit \(id)")
            }
            let t2 = Tape(recordsGradients: false)
            let loss = t2.value(try t2.crossEntropy(t2.input(logits), targets: Array(x.dropFirst()) + [-100])).scalar
            let ref = entry["mean_loss"] as! Double
            XCTAssertEqual(Double(loss), ref, accuracy: 1e-4 * ref, "\(kind) mean loss")
        }
    }

    func testGreedyDecodingMatchesTransformers() throws {
        let m = try loaded()
        let meta = try Fixtures.json("gemma3_reference.json")
        for case let entry as [String: Any] in meta["greedy"] as! [Any] {
            let kind = entry["kind"] as! String
            let prompt = entry["prompt"] as! String
            if kind == "chat" {
                let text = try m.renderChat([ChatMessage(role: "user", content: "What is the capital of France?")])
                XCTAssertEqual(text, "<bos>" + prompt, "Gemma turn format")
            }
            let ids = m.tokenizer.encode(prompt)
            XCTAssertEqual(ids, entry["prompt_ids"] as! [Int], "\(kind) prompt ids")
            let out = try m.model.generate(prompt: ids, maxNewTokens: 20, sampling: SamplingOptions(), stopTokens: m.stopTokenIDs)
            XCTAssertEqual(out, entry["ids"] as! [Int], "\(kind) greedy ids")
        }
    }
}
