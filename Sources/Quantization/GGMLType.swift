// GGML tensor types as stored in GGUF files: the numeric ids, the block size (elements)
// and bytes per block, from ggml.h / ggml-common.h (ids are part of the file format and
// never change). Which types can be dequantized is in GGMLType+Dequantize.swift.

/// A ggml tensor type; the raw value is the id GGUF files store.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3
    case q5_0 = 6, q5_1 = 7
    case q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20
    case iq3_S = 21, iq2_S = 22, iq4_XS = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28
    case iq1_M = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35
    case mxfp4 = 39

    /// Elements per super-block of the k-quants (`QK_K` in ggml).
    public static let kBlockSize = 256

    /// Number of elements one block holds (1 for plain element types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq2_XXS, .iq2_XS, .iq3_XXS,
             .iq1_S, .iq3_S, .iq2_S, .iq4_XS, .iq1_M, .tq1_0, .tq2_0: 256
        }
    }

    /// Number of bytes one block takes.
    public var bytesPerBlock: Int {
        let k = Self.kBlockSize
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .q4_0: return 2 + 16            // d, 32 nibbles
        case .q4_1: return 2 + 2 + 16        // d, m, 32 nibbles
        case .q5_0: return 2 + 4 + 16        // d, 32 high bits, 32 nibbles
        case .q5_1: return 2 + 2 + 4 + 16    // d, m, high bits, nibbles
        case .q8_0: return 2 + 32            // d, 32 int8
        case .q8_1: return 2 + 2 + 32        // d, s (= d·Σq), 32 int8
        case .q2_K: return k / 16 + k / 4 + 2 + 2
        case .q3_K: return k / 8 + k / 4 + 12 + 2
        case .q4_K: return 2 + 2 + 12 + k / 2
        case .q5_K: return 2 + 2 + 12 + k / 8 + k / 2
        case .q6_K: return k / 2 + k / 4 + k / 16 + 2
        case .q8_K: return 4 + k + k / 16 * 2  // f32 d, 256 int8, 16 int16 block sums
        case .iq2_XXS: return 2 + k / 4
        case .iq2_XS: return 2 + k / 4 + k / 32
        case .iq3_XXS: return 2 + 3 * k / 8
        case .iq1_S: return 2 + k / 8 + k / 16
        case .iq4_NL: return 2 + 16
        case .iq3_S: return 2 + k / 4 + k / 8 + k / 32 + 4
        case .iq2_S: return 2 + k / 4 + k / 16
        case .iq4_XS: return 2 + 2 + k / 2 + k / 64
        case .iq1_M: return k / 8 + k / 16 + k / 32
        case .tq1_0: return 2 + 4 * 13
        case .tq2_0: return 2 + 64
        case .mxfp4: return 1 + 16
        }
    }

    /// The upper-case name ggml and llama.cpp print, e.g. "Q4_K" or "F32".
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .f64: "F64"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_XXS: "IQ2_XXS"
        case .iq2_XS: "IQ2_XS"
        case .iq3_XXS: "IQ3_XXS"
        case .iq1_S: "IQ1_S"
        case .iq4_NL: "IQ4_NL"
        case .iq3_S: "IQ3_S"
        case .iq2_S: "IQ2_S"
        case .iq4_XS: "IQ4_XS"
        case .iq1_M: "IQ1_M"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        case .mxfp4: "MXFP4"
        }
    }

    /// The ggml name, as `name`.
    public var description: String { name }

    /// The type whose ggml name is `name`, in any case (`q4_k`, `Q4_K`, `bf16`), or nil.
    public init?(name: String) {
        guard let t = Self.allCases.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = t
    }

    /// True for block-quantized types (block size above 1).
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `elements` elements, or nil when `elements` is negative, not a
    /// multiple of the block size, or the byte count would overflow `Int`.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (n, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : n
    }
}
