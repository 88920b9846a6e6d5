// Widening f16/bf16 storage to Float32 and narrowing back (round to nearest even).
// Frozen weights stored narrow are widened into a reused scratch buffer right before
// their matrix product; the widened copy is never kept. The f16/bf16 loops are C kernels
// (CKernels: F16C where the CPU has it, exact integer conversion otherwise).
internal import CKernels

/// Low-level kernels. Each fast kernel has a plain twin named `…Reference` beside it.
enum Kernels {
    /// Widens `count` elements of `dtype` from `src` into `dst`.
    static func widen(_ src: UnsafeRawBufferPointer, dtype: DType, into dst: UnsafeMutablePointer<Float>, count: Int) {
        let base = src.baseAddress!
        switch dtype {
        case .f32:
            dst.update(from: base.assumingMemoryBound(to: Float.self), count: count)
        case .bf16:
            Parallel.forRanges(count, work: count) { r in lk_bf16_to_f32(base + 2 * r.lowerBound, dst + r.lowerBound, r.count) }
        case .f16:
            Parallel.forRanges(count, work: count) { r in lk_f16_to_f32(base + 2 * r.lowerBound, dst + r.lowerBound, r.count) }
        case .f64:
            let s = base.assumingMemoryBound(to: Double.self)
            for i in 0..<count { dst[i] = Float(s[i]) }
        case .i8: let s = base.assumingMemoryBound(to: Int8.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .u8, .bool: let s = base.assumingMemoryBound(to: UInt8.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .i16: let s = base.assumingMemoryBound(to: Int16.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .u16: let s = base.assumingMemoryBound(to: UInt16.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .i32: let s = base.assumingMemoryBound(to: Int32.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .u32: let s = base.assumingMemoryBound(to: UInt32.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .i64: let s = base.assumingMemoryBound(to: Int64.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .u64: let s = base.assumingMemoryBound(to: UInt64.self); for i in 0..<count { dst[i] = Float(s[i]) }
        case .packed: preconditionFailure("packed tensors widen through Tensor.unpackRows")
        }
    }

    /// Narrows Float32 values to f16 or bf16, rounding to nearest even (NaN stays NaN).
    static func narrow(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableRawBufferPointer, dtype: DType) {
        switch dtype {
        case .bf16:
            if let s = src.baseAddress { lk_f32_to_bf16(s, dst.baseAddress!, src.count) }
        case .f16:
            if let s = src.baseAddress { lk_f32_to_f16(s, dst.baseAddress!, src.count) }
        default:
            preconditionFailure("narrow to \(dtype)")
        }
    }

    /// bf16 bit pattern of `x`, round to nearest even: the scalar twin of `narrow` to bf16.
    @inline(__always)
    static func bf16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let b = x.bitPattern
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
