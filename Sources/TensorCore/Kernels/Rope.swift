// Rotary position embedding. x: [N, H, hd] where N = B·T tokens, each with its own
// position id (so packed sequences can restart positions). Pair i of a head rotates by
// angle pos·invFreq[i]. Two pairings: Hugging Face's half split (i, i + hd/2) and the
// interleaved (2i, 2i+1) of the original paper / GGML "normal" mode. The rotation is a C
// kernel (CKernels); `ropeReference` (Double, libm cos/sin) is its twin.
internal import CKernels

/// Which elements of a head form a rotary pair.
public enum RopeLayout: String, Sendable {
    /// Pairs (i, i + hd/2): Hugging Face `rotate_half`.
    case halfSplit
    /// Pairs (2i, 2i + 1).
    case interleaved
}

/// Precomputed cos/sin of position × inverse frequency, [maxPositions, hd/2] each.
public struct RopeTable: Sendable {
    /// Per-pair inverse frequencies (already scaled, e.g. by llama3 rope scaling).
    public let inverseFrequencies: [Float]
    /// Number of positions the table covers.
    public let maxPositions: Int
    let cos: [Float]
    let sin: [Float]

    /// Builds the table; angles are computed in Double then rounded, as PyTorch does in f32
    /// within a few ulp.
    public init(inverseFrequencies: [Float], maxPositions: Int) {
        self.inverseFrequencies = inverseFrequencies
        self.maxPositions = maxPositions
        let half = inverseFrequencies.count
        var c = [Float](repeating: 0, count: maxPositions * half)
        var s = c
        for p in 0..<maxPositions {
            for i in 0..<half {
                // Hugging Face forms the angle as a float32 product, then cos/sin of it.
                let angle = Float(p) * inverseFrequencies[i]
                c[p * half + i] = Float(_cos(Double(angle)))
                s[p * half + i] = Float(_sin(Double(angle)))
            }
        }
        cos = c
        sin = s
    }

    /// Standard inverse frequencies 1 / base^(2i/hd), computed in float32 as PyTorch does.
    public static func defaultInverseFrequencies(headDim: Int, base: Float) -> [Float] {
        (0..<(headDim / 2)).map { i in 1 / Float(_pow(Double(base), Double(Float(2 * i) / Float(headDim)))) }
    }
}

extension Kernels {
    /// y = rope(x) (forward) or y = rope⁻¹(x) (`inverse`, the backward of the rotation).
    static func rope(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                     tokens: Int, heads: Int, headDim: Int, table: RopeTable, layout: RopeLayout, inverse: Bool) {
        table.cos.withUnsafeBufferPointer { cosb in
            table.sin.withUnsafeBufferPointer { sinb in
                let cp = cosb.baseAddress!, sp = sinb.baseAddress!
                Parallel.forRanges(tokens, work: tokens * heads * headDim * 2) { r in
                    let offset = r.lowerBound * heads * headDim
                    lk_rope(x + offset, y + offset, positions + r.lowerBound, cp, sp, r.count, heads, headDim,
                            layout == .interleaved ? 1 : 0, inverse ? 1 : 0)
                }
            }
        }
    }

    static func ropeReference(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                              tokens: Int, heads: Int, headDim: Int, inverseFrequencies: [Float], layout: RopeLayout) {
        let half = headDim / 2
        for t in 0..<tokens {
            for h in 0..<heads {
                let base = (t * heads + h) * headDim
                for i in 0..<half {
                    let angle = Double(Float(positions[t]) * inverseFrequencies[i])
                    let (a, b) = layout == .halfSplit ? (i, i + half) : (2 * i, 2 * i + 1)
                    let x1 = Double(x[base + a]), x2 = Double(x[base + b])
                    y[base + a] = Float(x1 * _cos(angle) - x2 * _sin(angle))
                    y[base + b] = Float(x2 * _cos(angle) + x1 * _sin(angle))
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Darwin.sin(x) }
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
#endif
