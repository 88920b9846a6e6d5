// Quantizing Float32 to GGML block formats for writing GGUF files: the same bytes as ggml's
// reference quantizers (quantize_row_*_ref in ggml-quants.c, what ggml_quantize_chunk does
// without an importance matrix). The block kernels are in GGMLQuantize+Legacy.swift and
// GGMLQuantize+KQuants.swift, their plain twins in GGMLQuantizeReference.swift. Bit-exactness
// rests on doing ggml's Float32 operations in ggml's order (Swift never fuses a*b+c) and on
// the few helpers below that copy ggml's integer conversions.

import Foundation
import TensorCore
internal import CKernels

extension GGMLType {
    /// Types `quantize` can produce.
    public static let quantizable: Set<GGMLType> = [.bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

    /// True when `quantize` supports this type.
    public var canQuantize: Bool { Self.quantizable.contains(self) }

    /// Quantizes `src` (a whole number of this type's blocks) to GGML blocks, byte for byte
    /// what ggml's `ggml_quantize_chunk` writes for the same floats without an importance
    /// matrix. Large inputs are split across cores by blocks.
    /// Throws when the type has no quantizer, `src.count` is not whole blocks, or (for the
    /// block formats) a value is NaN or infinite. BF16 stores NaN and infinity as ggml does
    /// (NaN keeps its sign and upper payload, made quiet).
    public func quantize(_ src: UnsafeBufferPointer<Float>) throws -> [UInt8] {
        guard canQuantize else { throw QuantizationError.unsupportedType(self, operation: "quantize") }
        guard let bytes = byteCount(elements: src.count) else {
            throw QuantizationError.notWholeBlocks(self, elements: src.count)
        }
        var out = [UInt8](repeating: 0, count: bytes)
        guard bytes > 0, let x = src.baseAddress else { return out }
        let bs = blockSize, bpb = bytesPerBlock
        let firstBad = FirstIndex()
        out.withUnsafeMutableBytes { dst in
            let y = dst.baseAddress!
            Parallel.forRanges(src.count / bs, work: src.count * workPerElement) { r in
                let start = r.lowerBound * bs
                if self != .bf16, let i = Self.firstNonFinite(x + start, count: r.count * bs) {
                    firstBad.record(start + i)
                    return
                }
                self.quantizeBlocks(x + start, blocks: r.count, into: y + r.lowerBound * bpb)
            }
        }
        if let i = firstBad.value { throw QuantizationError.nonFiniteValue(index: i) }
        return out
    }

    /// The reference twin of `quantize`: one block at a time, plain scalar code. Traps on
    /// unsupported types and partial blocks (tests only); takes non-finite values as given.
    func quantizeReference(_ src: [Float]) -> [UInt8] {
        GGMLQuantizeReference.quantize(self, src)
    }

    /// How many element-sized steps quantizing one element costs, relative to a copy; lets
    /// `Parallel.forRanges` split the slow k-quant searches even for small tensors.
    var workPerElement: Int {
        switch self {
        case .q4_K, .q5_K, .q6_K: 32
        default: 1
        }
    }

    /// Encodes `blocks` whole blocks of finite floats (any floats for BF16).
    func quantizeBlocks(_ x: UnsafePointer<Float>, blocks: Int, into y: UnsafeMutableRawPointer) {
        let bs = blockSize, bpb = bytesPerBlock
        switch self {
        case .bf16:
            Self.quantizeBF16(x, count: blocks, into: y)
        case .q8_0:
            for b in 0..<blocks { Self.quantizeQ8_0Block(x + bs * b, into: y + bpb * b) }
        case .q4_0, .q4_1, .q5_0, .q5_1:
            let format = LegacyFormat(self)
            for b in 0..<blocks { Self.quantizeLegacyBlock(x + bs * b, into: y + bpb * b, format) }
        case .q4_K, .q5_K:
            let bits = self == .q4_K ? 4 : 5
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: KQuantScratch.count) { s in
                for b in 0..<blocks {
                    Self.quantizeKWithMinBlock(x + bs * b, into: y + bpb * b, bits: bits, scratch: s.baseAddress!)
                }
            }
        case .q6_K:
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: KQuantScratch.count) { s in
                for b in 0..<blocks { Self.quantizeQ6KBlock(x + bs * b, into: y + bpb * b, scratch: s.baseAddress!) }
            }
        default:
            preconditionFailure("quantizeBlocks called for \(self)")
        }
    }

    /// Index of the first NaN or infinity among `count` floats at `x`, if any.
    static func firstNonFinite(_ x: UnsafePointer<Float>, count: Int) -> Int? {
        // An integer max over the exponent fields vectorises; find the index only on failure.
        let bits = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        var worst: UInt32 = 0
        for i in 0..<count { worst = max(worst, bits[i] & 0x7F80_0000) }
        guard worst == 0x7F80_0000 else { return nil }
        return (0..<count).first { !x[$0].isFinite }
    }

    // MARK: BF16 and Q8_0

    /// BF16 as ggml_compute_fp32_to_bf16: round to nearest even on the upper half; a NaN keeps
    /// its sign and top payload bits with the quiet bit (0x40) set. The C kernel rounds the
    /// same way but writes every NaN as 0x7FC0, so those are redone from the input.
    static func quantizeBF16(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutableRawPointer) {
        lk_f32_to_bf16(x, y, count)
        let h = y.assumingMemoryBound(to: UInt16.self)
        let bits = UnsafeRawPointer(x).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count where h[i] & 0x7FFF == 0x7FC0 {   // only NaN inputs give these
            h[i] = UInt16(truncatingIfNeeded: bits[i] >> 16) | 0x40
        }
    }

    /// One Q8_0 block (quantize_row_q8_0_ref): d = absmax / 127 stored as f16, q = round(x / d)
    /// with halves away from zero, computed with the unrounded f32 d. 32 floats into 34 bytes.
    @inline(__always)
    static func quantizeQ8_0Block(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) {
        var m0 = SIMD8<Float>(), m1 = SIMD8<Float>()
        for k in stride(from: 0, to: 32, by: 16) {
            let a = GGMLMath.abs(UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self))
            let b = GGMLMath.abs(UnsafeRawPointer(x + k + 8).loadUnaligned(as: SIMD8<Float>.self))
            m0 = m0.replacing(with: a, where: a .> m0)
            m1 = m1.replacing(with: b, where: b .> m1)
        }
        m0 = m0.replacing(with: m1, where: m1 .> m0)
        var amax: Float = 0
        for i in 0..<8 where m0[i] > amax { amax = m0[i] }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLMath.half(d), as: UInt16.self)
        let q = (y + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<32 { q[j] = GGMLMath.lowByte((x[j] * id).rounded(.toNearestOrAwayFromZero)) }
    }
}

/// The smallest index recorded from any thread (the first non-finite input).
private final class FirstIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var index: Int?

    func record(_ i: Int) {
        lock.lock()
        if index.map({ i < $0 }) ?? true { index = i }
        lock.unlock()
    }

    var value: Int? {
        lock.lock()
        defer { lock.unlock() }
        return index
    }
}

/// ggml's integer conversions and rounding, shared by the fast kernels and their twins.
enum GGMLMath {
    /// nearest_int in ggml-quants.c: adding 1.5·2^23 leaves round-to-nearest-even of `x` in
    /// the low mantissa bits. Exact for |x| ≤ 4194303; outside that (and for NaN) it returns
    /// what the same bit trick gives in C, so even garbage matches.
    @inline(__always)
    static func nearestInt(_ x: Float) -> Int32 {
        Int32(bitPattern: (x + 12_582_912).bitPattern & 0x7F_FFFF) &- 0x40_0000
    }

    /// `nearestInt` on eight lanes.
    @inline(__always)
    static func nearestInt(_ x: SIMD8<Float>) -> SIMD8<Int32> {
        (unsafeBitCast(x + 12_582_912, to: SIMD8<Int32>.self) & 0x7F_FFFF) &- 0x40_0000
    }

    /// Float(l) for |l| < 2^22 without a lane-by-lane conversion: 1.5·2^23 + l is exact.
    @inline(__always)
    static func float(_ l: SIMD8<Int32>) -> SIMD8<Float> {
        unsafeBitCast(l &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912
    }

    /// `l` clamped to lo...hi.
    @inline(__always)
    static func clamp(_ l: SIMD8<Int32>, _ lo: Int32, _ hi: Int32) -> SIMD8<Int32> {
        // Vector against vector: the stdlib's vector-against-scalar forms are not inlined.
        let lov = SIMD8<Int32>(repeating: lo), hiv = SIMD8<Int32>(repeating: hi)
        return l.replacing(with: lov, where: l .< lov).replacing(with: hiv, where: l .> hiv)
    }

    /// fabsf on eight lanes (clears the sign bit, so -0 becomes +0).
    @inline(__always)
    static func abs(_ x: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    /// What C's conversion of `x` to a 32-bit int gives on x86-64 (cvttss2si): truncation,
    /// and 0x80000000 for NaN or out of range. ggml's (int8_t)/(uint8_t) casts keep its low byte.
    @inline(__always)
    static func truncatedInt32(_ x: Float) -> Int32 {
        x > -2_147_483_904 && x < 2_147_483_648 ? Int32(x) : Int32.min
    }

    /// The low byte of `truncatedInt32(x)`: a C cast of a float to int8_t or uint8_t.
    @inline(__always)
    static func lowByte(_ x: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: truncatedInt32(x))
    }

    /// f16 bits as GGML_FP32_TO_FP16 (round to nearest even; a NaN becomes sign | 0x7E00).
    @inline(__always)
    static func half(_ x: Float) -> UInt16 {
        x.isNaN ? (x.sign == .minus ? 0xFE00 : 0x7E00) : Half.bits(x)
    }
}
