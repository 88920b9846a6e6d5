// The real test model, SmolLM2-135M-Instruct as a Q4_1 GGUF (scripts/fetch-smollm2.sh):
// metadata, tensor count and shapes, and dequantized values against gguf-py at positions
// sampled by scripts/make_ggml_fixtures.py. Skipped when the model is not downloaded.
import Foundation
import XCTest
import TensorCore
import Quantization
@testable import ModelFormats

final class SmolLM2Tests: XCTestCase {
    func openModel() throws -> GGUFFile {
        guard FileManager.default.fileExists(atPath: Fixtures.smolLM2.path) else {
            throw XCTSkip("SmolLM2 GGUF missing: run scripts/fetch-smollm2.sh")
        }
        return try GGUFFile(path: Fixtures.smolLM2.path)
    }

    func testMetadataAndShapes() throws {
        let f = try openModel()
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(f.tensorInfos.count, 272)
        XCTAssertEqual(f["llama.block_count"]?.int, 30)
        XCTAssertEqual(f["llama.embedding_length"]?.int, 576)
        XCTAssertEqual(f["llama.attention.head_count"]?.int, 9)
        XCTAssertEqual(f["llama.attention.head_count_kv"]?.int, 3)
        XCTAssertEqual(f["llama.rope.freq_base"]?.float, 100_000)
        XCTAssertEqual(f["tokenizer.ggml.tokens"]?.strings?.count, 49152)
        XCTAssertEqual(f["tokenizer.ggml.merges"]?.array?.count, 48900)
        XCTAssertEqual(f["tokenizer.ggml.model"]?.string, "gpt2")
        XCTAssertEqual(f.info("token_embd.weight")?.shape, [49152, 576])
        XCTAssertEqual(f.info("token_embd.weight")?.type, .q8_0)
        XCTAssertEqual(f.info("blk.0.attn_q.weight")?.shape, [576, 576])
        XCTAssertEqual(f.info("blk.0.attn_k.weight")?.shape, [192, 576])
        XCTAssertEqual(f.info("blk.0.attn_k.weight")?.type, .q4_1)
        XCTAssertEqual(f.info("blk.0.ffn_down.weight")?.shape, [576, 1536])
        XCTAssertEqual(f.info("blk.0.ffn_gate.weight")?.shape, [1536, 576])
        XCTAssertEqual(f.info("output_norm.weight")?.shape, [576])
        XCTAssertNil(f.info("output.weight"), "tied embeddings: no output tensor")
        // Every tensor maps to a Hugging Face name.
        for name in f.tensorNames { XCTAssertNotNil(LlamaTensorNames.huggingFaceName(forGGUF: name), name) }
    }

    func testDequantizedValuesMatchGGUFPy() throws {
        let f = try openModel()
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.dir.appendingPathComponent("smollm2_samples.json"))) as! [String: Any]
        XCTAssertEqual(json["tensor_count"] as? Int, f.tensorInfos.count)
        let tensors = json["tensors"] as! [String: [String: Any]]
        XCTAssertTrue(tensors.keys.contains("blk.0.attn_q.weight"))
        for (name, entry) in tensors {
            let shape = entry["shape"] as! [Int]
            let t = try f.tensor(named: name)
            XCTAssertEqual(t.shape, shape, name)
            XCTAssertEqual((entry["type"] as! String), f.info(name)!.type.name)
            let values = t.floats
            for sample in entry["samples"] as! [[Any]] {
                let index = sample[0] as! [Int], expected = Float((sample[1] as! NSNumber).doubleValue)
                let flat = index.enumerated().reduce(0) { $0 * shape[$1.offset] + $1.element }
                XCTAssertEqual(values[flat], expected, accuracy: 1e-6 * max(1, abs(expected)), "\(name)\(index)")
            }
            let sum = values.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(sum, (entry["sum"] as! NSNumber).doubleValue, accuracy: 1e-3 * max(1, abs(sum)), name)
        }
    }

    func testRowSlabsMatchWholeMatrix() throws {
        let f = try openModel()
        let raw = try f.rawTensor(named: "blk.0.ffn_gate.weight")      // [1536, 576] Q4_1
        let whole = try raw.dequantized().floats
        var slab = [Float](repeating: 0, count: 100 * 576)
        try slab.withUnsafeMutableBufferPointer { try raw.dequantize(rows: 700..<800, into: $0.baseAddress!) }
        XCTAssertEqual(slab, Array(whole[(700 * 576)..<(800 * 576)]))
        let q = try f.rawTensor(named: "blk.0.attn_q.weight")
        let hf = try LlamaPermutation.unpermute(q, heads: 9)
        let back = try LlamaPermutation.permute(hf, heads: 9)
        XCTAssertEqual(Array(back.bytes), Array(q.bytes))
        XCTAssertEqual(try LlamaPermutation.unpermute(try q.dequantized(), heads: 9).floats, try hf.dequantized().floats)
    }
}
