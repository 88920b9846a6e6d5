// Rotary position embedding. x: [N, H, hd] where N = B·T tokens, each with its own
// position id (so packed sequences can restart positions). Pair i of a head rotates by
// angle pos·invFreq[i]. Two pairings: Hugging Face's half split (i, i + rd/2) and the
// interleaved (2i, 2i+1) of the original paper / GGML "normal" mode, where rd = 2 · (number of
// frequencies) is the rotated part of the head: all of it, or its first rd values (partial
// rotary, Phi-4-mini), the rest passing through. A table may scale cos and sin (LongRoPE). The rotation is a C
// kernel (CKernels); `ropeReference` (Double, libm cos/sin) is its twin.
internal import CKernels

/// Which elements of a head form a rotary pair.
public enum RopeLayout: String, Sendable {
    /// Pairs (i, i + hd/2): Hugging Face `rotate_half`.
    case halfSplit
    /// Pairs (2i, 2i + 1).
    case interleaved
}

/// Precomputed cos/sin of position × inverse frequency, [maxPositions, pairs] each.
public struct RopeTable: Sendable {
    /// Per-pair inverse frequencies (already scaled, e.g. by llama3 rope scaling).
    public let inverseFrequencies: [Float]
    /// Number of positions the table covers.
    public let maxPositions: Int
    /// What cos and sin are multiplied by (LongRoPE's attention factor; 1 otherwise).
    public let scale: Float
    let cos: [Float]
    let sin: [Float]

    /// How many leading values of a head the table rotates (2 per frequency).
    public var rotaryDimensions: Int { 2 * inverseFrequencies.count }

    /// Builds the table; angles are computed in Double then rounded, as PyTorch does in f32
    /// within a few ulp. `scale` multiplies the rounded cos and sin in f32, as transformers does.
    public init(inverseFrequencies: [Float], maxPositions: Int, scale: Float = 1) {
        self.inverseFrequencies = inverseFrequencies
        self.maxPositions = maxPositions
        self.scale = scale
        let half = inverseFrequencies.count
        var c = [Float](repeating: 0, count: maxPositions * half)
        var s = c
        for p in 0..<maxPositions {
            for i in 0..<half {
                // Hugging Face forms the angle as a float32 product, then cos/sin of it.
                let angle = Float(p) * inverseFrequencies[i]
                c[p * half + i] = Float(_cos(Double(angle))) * scale
                s[p * half + i] = Float(_sin(Double(angle))) * scale
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
                            table.rotaryDimensions, layout == .interleaved ? 1 : 0, inverse ? 1 : 0)
                }
            }
        }
    }

    /// The plain twin of `rope` (forward only): rotates the first 2 · inverseFrequencies.count
    /// values of each head in Double, scaled by `scale`, and copies the rest.
    static func ropeReference(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                              tokens: Int, heads: Int, headDim: Int, inverseFrequencies: [Float], layout: RopeLayout,
                              scale: Float = 1) {
        let half = inverseFrequencies.count
        for t in 0..<tokens {
            for h in 0..<heads {
                let base = (t * heads + h) * headDim
                for d in (2 * half)..<headDim { y[base + d] = x[base + d] }
                for i in 0..<half {
                    let angle = Double(Float(positions[t]) * inverseFrequencies[i])
                    let c = Double(Float(_cos(angle)) * scale), s = Double(Float(_sin(angle)) * scale)
                    let (a, b) = layout == .halfSplit ? (i, i + half) : (2 * i, 2 * i + 1)
                    let x1 = Double(x[base + a]), x2 = Double(x[base + b])
                    y[base + a] = Float(x1 * c - x2 * s)
                    y[base + b] = Float(x2 * c + x1 * s)
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
