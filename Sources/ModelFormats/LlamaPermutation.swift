// llama.cpp's q/k row permutation for `llama` models. convert_hf_to_gguf.py reorders the
// rows of q_proj (with n_head) and k_proj (with n_head_kv), weights and biases alike:
// reshape rows to [heads, 2, headDim/2], swap the last two axes, flatten. That turns HF's
// rotate-half layout (first half / second half of each head) into interleaved pairs. So
// GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i. Rows are moved whole, so this
// works for any dtype and for GGML blocks (a row is a whole number of blocks).
import TensorCore
import Quantization

/// The q/k row permutation between Hugging Face and GGUF layouts.
public enum LlamaPermutation {
    /// Which projection a tensor belongs to: pass `heads` = n_head for `.query`,
    /// n_head_kv for `.key`.
    public enum Projection: Sendable { case query, key }

    /// For each output row, the input row it comes from. `toGGUF` true gives llama.cpp's
    /// permute (HF -> GGUF); false its inverse (GGUF -> HF). Throws unless `rows` is a
    /// positive multiple of 2·heads.
    public static func sourceRows(rows: Int, heads: Int, toGGUF: Bool) throws -> [Int] {
        guard heads > 0, rows > 0, rows % (2 * heads) == 0 else {
            throw TensorError.invalidShape(op: "LlamaPermutation", shape: [rows],
                                           expected: "a row count divisible by 2 × \(heads) heads")
        }
        let headDim = rows / heads, half = headDim / 2
        var src = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let gguf = h * headDim + 2 * i + j, hf = h * headDim + j * half + i
                    if toGGUF { src[gguf] = hf } else { src[hf] = gguf }
                }
            }
        }
        return src
    }

    /// llama.cpp's permutation (HF -> GGUF) of the rows (outermost axis) of `t`.
    public static func permute(_ t: Tensor, heads: Int) throws -> Tensor {
        try reorder(t, try sourceRows(rows: t.shape.first ?? 0, heads: heads, toGGUF: true))
    }

    /// The inverse (GGUF -> HF) of `permute`.
    public static func unpermute(_ t: Tensor, heads: Int) throws -> Tensor {
        try reorder(t, try sourceRows(rows: t.shape.first ?? 0, heads: heads, toGGUF: false))
    }

    /// The inverse (GGUF -> HF) on raw GGML rows: the result owns its bytes.
    public static func unpermute(_ t: GGMLTensor, heads: Int) throws -> GGMLTensor {
        try reorder(t, try sourceRows(rows: t.shape.first ?? 0, heads: heads, toGGUF: false))
    }

    /// llama.cpp's permutation (HF -> GGUF) on raw GGML rows.
    public static func permute(_ t: GGMLTensor, heads: Int) throws -> GGMLTensor {
        try reorder(t, try sourceRows(rows: t.shape.first ?? 0, heads: heads, toGGUF: true))
    }

    static func reorder(_ t: Tensor, _ src: [Int]) throws -> Tensor {
        let rowBytes = t.byteCount / max(src.count, 1)
        var out = Tensor(uninitialized: t.shape, dtype: t.dtype)
        t.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { d in
                for (row, from) in src.enumerated() {
                    (d.baseAddress! + row * rowBytes).copyMemory(from: s.baseAddress! + from * rowBytes, byteCount: rowBytes)
                }
            }
        }
        return out
    }

    static func reorder(_ t: GGMLTensor, _ src: [Int]) throws -> GGMLTensor {
        let rowBytes = t.bytes.count / max(src.count, 1)
        var data = [UInt8](repeating: 0, count: t.bytes.count)
        data.withUnsafeMutableBytes { d in
            for (row, from) in src.enumerated() {
                (d.baseAddress! + row * rowBytes).copyMemory(from: t.bytes.baseAddress! + from * rowBytes, byteCount: rowBytes)
            }
        }
        return try GGMLTensor(type: t.type, shape: t.shape, data: data)
    }
}
