// Fast NF4/FP4 kernels: blockwise quantization (8 weights per SIMD step) and row-slab
// dequantization (one byte → two scaled floats from a 256-pair table), split over threads by
// blocks. Plain twins are in FourBitReference.swift; tests check the two agree bit for bit.
import TensorCore

enum FourBitKernels {
    /// bitsandbytes clamps absmax to this before dividing (`absmax.clamp(min=1e-38)`).
    static let minimumAbsmax: Float = 1e-38

    /// Quantizes `x` as bnb's CPU `quantize_4bit` (backends/default/ops.py): per block
    /// absmax = max |x| (NaN propagates, as torch's max does); full blocks scale by
    /// `x * (1 / max(absmax, 1e-38))` and store absmax unclamped, the short tail block divides
    /// by the clamped absmax and stores that. The code is `order[#{bounds b : !(b >= s)}]`
    /// (torch.bucketize, ties to the lower code, NaN to the top one). Returns packed codes
    /// and one absmax per block.
    static func quantize(_ x: UnsafeBufferPointer<Float>, type: FourBitType, blockSize: Int) -> (codes: [UInt8], absmax: [Float]) {
        let n = x.count
        let blocks = (n + blockSize - 1) / blockSize
        var codes = [UInt8](repeating: 0, count: (n + 1) / 2)
        var absmax = [Float](repeating: 0, count: blocks)
        guard n > 0, let src = x.baseAddress else { return (codes, absmax) }
        let (bounds, order) = type.decision
        let b = bounds.map { SIMD8<Float>(repeating: $0) }
        let padCode = order[index(0, bounds)]
        codes.withUnsafeMutableBufferPointer { cBuf in
            absmax.withUnsafeMutableBufferPointer { aBuf in
                let out = cBuf.baseAddress!, am = aBuf.baseAddress!
                Parallel.forRanges(blocks, work: 16 * n) { range in
                    for blk in range {
                        let lo = blk * blockSize, hi = min(lo + blockSize, n)
                        var m: Float = 0
                        var nan = false
                        for i in lo..<hi {
                            let a = abs(src[i])
                            if a > m { m = a }
                            nan = nan || a.isNaN
                        }
                        if nan { m = .nan }
                        let clamped = m < minimumAbsmax ? minimumAbsmax : m
                        let full = hi - lo == blockSize
                        am[blk] = full ? m : clamped
                        let inv = 1 / clamped
                        var i = lo
                        if full {
                            let vinv = SIMD8<Float>(repeating: inv)
                            while i + 8 <= hi {
                                let s = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) * vinv
                                var q = SIMD8<Int32>(repeating: 0)
                                for bound in b { q &+= SIMD8<Int32>(repeating: 1).replacing(with: 0, where: s .<= bound) }
                                for k in 0..<4 {
                                    out[(i >> 1) + k] = order[Int(q[2 * k])] << 4 | order[Int(q[2 * k + 1])]
                                }
                                i += 8
                            }
                        }
                        // Tail block (divides, as bnb's tail does) and any remainder.
                        while i < hi {
                            let s0 = full ? src[i] * inv : src[i] / clamped
                            let c0 = order[index(s0, bounds)]
                            let c1: UInt8
                            if i + 1 < hi {
                                c1 = order[index(full ? src[i + 1] * inv : src[i + 1] / clamped, bounds)]
                            } else {
                                c1 = padCode
                            }
                            out[i >> 1] = c0 << 4 | c1
                            i += 2
                        }
                    }
                }
            }
        }
        return (codes, absmax)
    }

    /// torch.bucketize(s, bounds, right=False): the number of bounds that are not ≥ s.
    @inline(__always)
    static func index(_ s: Float, _ bounds: [Float]) -> Int {
        var q = 0
        for b in bounds where !(s <= b) { q += 1 }
        return q
    }

    /// (high-nibble value, low-nibble value) for every byte.
    static func pairTable(_ type: FourBitType) -> [SIMD2<Float>] {
        let t = type.dequantTable
        return (0..<256).map { SIMD2(t[$0 >> 4], t[$0 & 15]) }
    }

    static let nf4Pairs = pairTable(.nf4)
    static let fp4Pairs = pairTable(.fp4)
    /// The 16 values the few-row product multiplies by a block's scale (`dequantTable`).
    static let nf4Table = FourBitType.nf4.dequantTable
    static let fp4Table = FourBitType.fp4.dequantTable

    /// Writes elements `elements` of the flattened matrix to `destination[0...]`: code value ×
    /// `scales[block - firstBlock]`. An element range may start or end on an odd index or
    /// inside a block; whole bytes go through the pair table, a lone nibble at either end alone.
    static func dequantize(codes: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, firstBlock: Int,
                           blockSize: Int, elements: Range<Int>, type: FourBitType,
                           into destination: UnsafeMutablePointer<Float>) {
        let e0 = elements.lowerBound
        let blocks = (elements.upperBound - 1) / blockSize - firstBlock + 1
        let pairs = type == .nf4 ? nf4Pairs : fp4Pairs
        pairs.withUnsafeBufferPointer { pBuf in
            let pairs = pBuf.baseAddress!
            let raw = UnsafeMutableRawPointer(destination)
            Parallel.forRanges(blocks, work: elements.count) { range in
                for rb in range {
                    let blk = firstBlock + rb
                    let scale = scales[rb]
                    let vscale = SIMD2<Float>(repeating: scale)
                    var i = max(blk * blockSize, e0)
                    let hi = min(blk * blockSize + blockSize, elements.upperBound)
                    if i & 1 == 1 {                                   // low nibble of a split byte
                        destination[i - e0] = pairs[Int(codes[i >> 1])].y * scale
                        i += 1
                    }
                    while i + 2 <= hi {
                        raw.storeBytes(of: pairs[Int(codes[i >> 1])] * vscale, toByteOffset: 4 * (i - e0), as: SIMD2<Float>.self)
                        i += 2
                    }
                    if i < hi {                                       // high nibble of a split byte
                        destination[i - e0] = pairs[Int(codes[i >> 1])].x * scale
                    }
                }
            }
        }
    }
}
