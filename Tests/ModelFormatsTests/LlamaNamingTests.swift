// Llama tensor names between GGUF and Hugging Face, and llama.cpp's q/k row permutation:
// a hand-worked example, inverse pairs, and agreement between Tensor and raw-block forms.
import XCTest
import TensorCore
import Quantization
@testable import ModelFormats

final class LlamaNamingTests: XCTestCase {
    func testNameMapping() {
        let pairs = [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
            ("blk.12.attn_k.bias", "model.layers.12.self_attn.k_proj.bias"),
            ("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
            ("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"),
            ("blk.29.ffn_gate.weight", "model.layers.29.mlp.gate_proj.weight"),
            ("blk.29.ffn_up.weight", "model.layers.29.mlp.up_proj.weight"),
            ("blk.29.ffn_down.weight", "model.layers.29.mlp.down_proj.weight"),
            ("blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"),
            ("blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"),
        ]
        for (g, h) in pairs {
            XCTAssertEqual(LlamaTensorNames.huggingFaceName(forGGUF: g), h)
            XCTAssertEqual(LlamaTensorNames.ggufName(forHuggingFace: h), g)
        }
        for bad in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.-1.attn_q.weight",
                    "blk.0.attn_q", "blk.0.attn_qq.weight", "blk..attn_q.weight", ""] {
            XCTAssertNil(LlamaTensorNames.huggingFaceName(forGGUF: bad), bad)
        }
        for bad in ["model.layers.0.self_attn.q_proj", "model.layers.a.mlp.up_proj.weight", "lm_head.scale"] {
            XCTAssertNil(LlamaTensorNames.ggufName(forHuggingFace: bad), bad)
        }
        XCTAssertEqual(LlamaTensorNames.permutation(forGGUF: "blk.4.attn_q.weight"), .query)
        XCTAssertEqual(LlamaTensorNames.permutation(forGGUF: "blk.4.attn_k.bias"), .key)
        XCTAssertNil(LlamaTensorNames.permutation(forGGUF: "blk.4.attn_v.weight"))
    }

    func testPermutationKnownExample() throws {
        // One head of dim 6: HF rows [0 1 2 | 3 4 5] become interleaved pairs 0 3 1 4 2 5
        // (numpy: x.reshape(1, 2, 3).swapaxes(1, 2).reshape(6)).
        XCTAssertEqual(try LlamaPermutation.sourceRows(rows: 6, heads: 1, toGGUF: true), [0, 3, 1, 4, 2, 5])
        // Two heads of dim 4: per head [0 1 | 2 3] -> 0 2 1 3.
        let t = try Tensor(shape: [8, 2], values: (0..<16).map(Float.init))
        let p = try LlamaPermutation.permute(t, heads: 2)
        XCTAssertEqual(p.floats, [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
        XCTAssertEqual(try LlamaPermutation.unpermute(p, heads: 2).floats, t.floats)
        // A 1-D bias is permuted like a column.
        let bias = try Tensor(shape: [4], values: [10, 11, 12, 13])
        XCTAssertEqual(try LlamaPermutation.permute(bias, heads: 1).floats, [10, 12, 11, 13])
    }

    func testPermutationInverses() throws {
        for (rows, heads) in [(576, 9), (192, 3), (64, 1), (4096, 32), (1024, 8)] {
            let fwd = try LlamaPermutation.sourceRows(rows: rows, heads: heads, toGGUF: true)
            let inv = try LlamaPermutation.sourceRows(rows: rows, heads: heads, toGGUF: false)
            XCTAssertEqual(Set(fwd).count, rows)
            for r in 0..<rows { XCTAssertEqual(fwd[inv[r]], r); XCTAssertEqual(inv[fwd[r]], r) }
        }
        let t = try Tensor(shape: [24, 3], values: (0..<72).map { Float($0) * 0.5 })
        XCTAssertEqual(try LlamaPermutation.unpermute(try LlamaPermutation.permute(t, heads: 3), heads: 3).floats, t.floats)
        XCTAssertEqual(try LlamaPermutation.permute(try LlamaPermutation.unpermute(t, heads: 2), heads: 2).floats, t.floats)
        // Raw blocks move like rows of floats.
        let x = (0..<(8 * 32)).map { Float($0 % 17) - 8 }
        let q = try GGMLTensor(type: .q8_0, shape: [8, 32], data: try x.withUnsafeBufferPointer { try GGMLType.q8_0.quantize($0) })
        XCTAssertEqual(try LlamaPermutation.permute(q, heads: 2).dequantized().floats,
                       try LlamaPermutation.permute(try q.dequantized(), heads: 2).floats)
        XCTAssertThrowsError(try LlamaPermutation.permute(t, heads: 5))
        XCTAssertThrowsError(try LlamaPermutation.permute(t, heads: 0))
        XCTAssertThrowsError(try LlamaPermutation.permute(Tensor(scalar: 1), heads: 1))
    }
}
