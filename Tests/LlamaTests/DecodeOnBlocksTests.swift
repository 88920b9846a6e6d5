// Generation on the GGUF's own blocks (LoadOptions.generation). With f32 activations the
// steps compute exactly what the dequantized model computes. With 8-bit activations (the
// default of `generate`, `chat` and `serve`) the arithmetic is llama.cpp's: the logits after
// each fixture prompt and the greedy continuations agree with what llama.cpp computes on the
// same file (scripts/make_llamacpp_decode_fixtures.py), for SmolLM2 (Q4_1, Q8_0 head) and
// Gemma 3 (Q5_0, Q8_0, Q4_K, Q6_K).
import XCTest
import Foundation
import TensorCore
@testable import Llama

final class DecodeOnBlocksTests: XCTestCase {
    func testStepsOnBlocksMatchTheDequantizedModel() throws {
        let path = try Fixtures.smolLM2()
        let widened = try ModelLoader.load(path)
        let exact = try ModelLoader.load(path, options: .generation(exact: true))
        XCTAssertNotNil(exact.model.parameter("model.layers.0.mlp.down_proj.weight").value.packed, "decoder linears stay in blocks")
        XCTAssertNotNil(exact.model.parameter("model.embed_tokens.weight").value.packed, "so do the embedding and the tied head")
        let ids: [Int32] = [1, 504, 3575, 282, 4649, 314]
        func steps(_ m: LoadedModel) throws -> [Float] {
            let cache = KVCache(configuration: m.model.configuration, capacity: 16)
            _ = try m.model.step(Array(ids[0..<3]), cache: cache)
            var last: [Float] = []
            for id in ids[3...] { last = try m.model.step([id], cache: cache) }
            return last
        }
        XCTAssertEqual(try steps(exact), try steps(widened), "f32 activations on blocks: the widened model's numbers, bit for bit")
    }

    func testSmolLM2EightBitDecodingIsLlamaCpps() throws {
        try checkAgainstLlamaCpp("smollm2", path: try Fixtures.smolLM2())
    }

    func testHalfPrecisionCacheHalvesItsBytesAndStaysClose() throws {
        let m = try ModelLoader.load(try Fixtures.smolLM2())
        let ids: [Int32] = [1, 504, 3575, 282, 4649, 314, 253, 8170]
        var last: [DType: [Float]] = [:]
        for dtype in [DType.f32, .f16] {
            let cache = KVCache(configuration: m.model.configuration, capacity: 16, dtype: dtype)
            _ = try m.model.step(Array(ids[0..<4]), cache: cache)
            for id in ids[4...] { last[dtype] = try m.model.step([id], cache: cache) }
            XCTAssertEqual(cache.byteCount, 2 * 30 * 16 * 3 * 64 * dtype.byteSize)
        }
        XCTAssertNotEqual(last[.f16], last[.f32], "the f16 cache rounds")
        assertRelativeClose(last[.f16]!, last[.f32]!, rtol: 2e-3, "f16 cache vs f32 cache")
    }

    func testGemma3EightBitDecodingIsLlamaCpps() throws {
        let path = ProcessInfo.processInfo.environment["LORIKEET_GEMMA3"]
            ?? Fixtures.repoRoot.appendingPathComponent("cache/gemma3/gemma-3-270m-q4_k_m.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("Gemma 3 GGUF not found at \(path): run scripts/fetch-gemma3.sh") }
        try checkAgainstLlamaCpp("gemma3", path: path)
    }

    /// For every fixture prompt: llama.cpp's ten largest logits, each as its distance below the
    /// top one, within 2 % of the logits' scale, and the same greedy tokens, at least the first
    /// five unless they part earlier where our top two are within that tolerance (llama.cpp also
    /// keeps its KV cache in f16).
    func checkAgainstLlamaCpp(_ name: String, path: String, cache dtype: DType = .f32) throws {
        let m = try ModelLoader.load(path, options: .generation())
        let fixture = try Fixtures.json("llamacpp_decode.json")
        let prompts = ((fixture["models"] as! [String: Any])[name] as! [String: Any])["prompts"] as! [[String: Any]]
        for p in prompts {
            let ids = p["ids"] as! [Int], expected = p["greedy"] as! [Int]
            let cache = KVCache(configuration: m.model.configuration, capacity: ids.count + expected.count + 1, dtype: dtype)
            var logits = try m.model.step(ids.map { Int32($0) }, cache: cache)
            // Each logit's distance below llama.cpp's top token (a common shift changes no probability).
            let scale = p["last_logits_max_abs"] as! Double
            let top = (p["last_logits_top10"] as! [[Double]]).map { (Int($0[0]), $0[1]) }
            for (token, value) in top {
                XCTAssertEqual(Double(logits[token] - logits[top[0].0]), value - top[0].1, accuracy: 0.02 * scale,
                               "\(name) prompt \(p["index"]!) token \(token)")
            }
            var out: [Int] = [], margins: [Float] = []
            for _ in expected.indices {
                let next = logits.indices.max { logits[$0] < logits[$1] }!
                out.append(next)
                margins.append(logits[next] - logits.indices.filter { $0 != next }.map { logits[$0] }.max()!)
                if out.count == expected.count { break }
                logits = try m.model.step([Int32(next)], cache: cache)
            }
            let agreeing = zip(out, expected).prefix { $0 == $1 }.count
            let margin = agreeing < out.count ? margins[agreeing] : .infinity
            print("\(name) prompt \(p["index"]!), \(dtype) cache: \(agreeing) of \(expected.count) greedy tokens as llama.cpp's (our top-2 margin where they part: \(margin))")
            // At least five tokens agree, or they part where our top two were closer than the
            // tolerance the logits agree to (2 % of their scale, as above): there the rounding of
            // the 8-bit activations (f32 scales here, f16 in llama.cpp) and the order of sgemm's
            // sums decide, and the paths differ after it.
            let tie = Float(0.02 * scale)
            XCTAssertTrue(agreeing >= min(5, out.count) || margin < tie,
                          "\(name) prompt \(p["index"]!): ours \(out) vs llama.cpp \(expected) (margin \(margin), ties below \(tie))")
        }
    }
}
