// Embedding lookup and its scatter-add backward, and seeded dropout masks.
// table: [V, D], ids: [N] → out: [N, D]. Dropout draws its mask from a counter-based
// hash of (seed, element index), so recomputing a checkpointed block reproduces it.
internal import CKernels

extension Kernels {
    static func embedding(table: UnsafePointer<Float>, ids: UnsafePointer<Int32>, out: UnsafeMutablePointer<Float>,
                          count: Int, dim: Int) {
        Parallel.forRanges(count, work: count * dim) { r in
            for i in r { (out + i * dim).update(from: table + Int(ids[i]) * dim, count: dim) }
        }
    }

    /// dTable[ids[i]] += dOut[i]. Sequential: rows may repeat.
    static func embeddingBackward(dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>, dTable: UnsafeMutablePointer<Float>,
                                  count: Int, dim: Int) {
        for i in 0..<count where ids[i] >= 0 {  // −1: a padding id, which gets no gradient
            let dst = dTable + Int(ids[i]) * dim
            lk_add(dst, dOut + i * dim, dst, dim)
        }
    }

    /// Uniform value in [0, 1) for element `index` of the mask drawn with `seed`.
    @inline(__always)
    static func dropoutUniform(seed: UInt64, index: Int) -> Float {
        var z = seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) * (1.0 / 16_777_216.0)
    }

    /// out = x · keep / (1 − p) where keep = uniform ≥ p. Also the backward (same mask).
    static func dropout(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int, p: Float, seed: UInt64) {
        let scale = 1 / (1 - p)
        Parallel.forRanges(n, work: n * 2) { r in
            for i in r { out[i] = dropoutUniform(seed: seed, index: i) >= p ? x[i] * scale : 0 }
        }
    }
}
