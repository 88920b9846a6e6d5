// Quantizing Float32 to Q8_0 (what the GGUF writer stores for 8-bit tensors), following
// quantize_row_q8_0_ref in ggml-quants.c: d = absmax / 127 stored as f16, q = round(x / d)
// with halves away from zero, computed with the unrounded f32 d. Fast and reference twin.

import TensorCore

extension GGMLType {
    /// Quantizes `src` (a whole number of 32-element blocks) to Q8_0 blocks of 34 bytes.
    /// Throws unless `src.count` is a multiple of 32 and every value is finite.
    public static func quantizeQ8_0(_ src: UnsafeBufferPointer<Float>) throws -> [UInt8] {
        guard let bytes = GGMLType.q8_0.byteCount(elements: src.count) else {
            throw QuantizationError.notWholeBlocks(.q8_0, elements: src.count)
        }
        // A NaN or infinity has no 8-bit code (and would trap converting to Int8).
        if let bad = src.firstIndex(where: { !$0.isFinite }) {
            throw QuantizationError.nonFiniteValue(index: bad)
        }
        var out = [UInt8](repeating: 0, count: bytes)
        guard let x = src.baseAddress else { return out }
        out.withUnsafeMutableBytes { dst in
            let base = dst.baseAddress!
            Parallel.forRanges(src.count / 32, work: src.count) { r in
                for b in r { quantizeQ8_0Block(x + 32 * b, into: base + 34 * b) }
            }
        }
        return out
    }

    /// One Q8_0 block: 32 floats at `x` into 34 bytes at `y`.
    @inline(__always)
    static func quantizeQ8_0Block(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) {
        var m0 = SIMD8<Float>(), m1 = SIMD8<Float>()
        for k in stride(from: 0, to: 32, by: 16) {
            let a = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self)
            let b = UnsafeRawPointer(x + k + 8).loadUnaligned(as: SIMD8<Float>.self)
            let aa = a.replacing(with: -a, where: a .< 0), bb = b.replacing(with: -b, where: b .< 0)
            m0 = m0.replacing(with: aa, where: aa .> m0)
            m1 = m1.replacing(with: bb, where: bb .> m1)
        }
        m0 = m0.replacing(with: m1, where: m1 .> m0)
        var amax: Float = 0
        for i in 0..<8 where m0[i] > amax { amax = m0[i] }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: Half.bits(d), as: UInt16.self)
        let q = (y + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { q[j] = Int8((x[j] * id).rounded(.toNearestOrAwayFromZero)) }
    }

    /// Reference twin of `quantizeQ8_0`: one block at a time with scalar loops.
    static func quantizeQ8_0Reference(_ src: [Float]) -> [UInt8] {
        precondition(src.count % 32 == 0, "Q8_0 reference needs whole blocks")
        var out: [UInt8] = []
        for b in 0..<(src.count / 32) {
            let block = src[(32 * b)..<(32 * b + 32)]
            let amax = block.reduce(Float(0)) { max($0, abs($1)) }
            let d = amax / 127
            let id: Float = d == 0 ? 0 : 1 / d
            let h = Half.bitsReference(d)
            out.append(UInt8(h & 0xFF))
            out.append(UInt8(h >> 8))
            for v in block { out.append(UInt8(bitPattern: Int8((v * id).rounded(.toNearestOrAwayFromZero)))) }
        }
        return out
    }
}
