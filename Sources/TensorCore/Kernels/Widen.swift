// Widening f16/bf16 storage to Float32 and narrowing back (round to nearest even).
// Frozen weights stored narrow are widened into a reused scratch buffer right before
// their matrix product; the widened copy is never kept.

/// Low-level kernels. Each fast kernel has a plain twin named `…Reference` beside it.
enum Kernels {
    /// Widens `count` elements of `dtype` from `src` into `dst`.
    static func widen(_ src: UnsafeRawBufferPointer, dtype: DType, into dst: UnsafeMutablePointer<Float>, count: Int) {
        let base = src.baseAddress!
        switch dtype {
        case .f32:
            dst.update(from: base.assumingMemoryBound(to: Float.self), count: count)
        case .bf16:
            let s = base.assumingMemoryBound(to: UInt16.self)
            Parallel.forRanges(count, work: count) { r in
                for i in r { dst[i] = Float(bitPattern: UInt32(s[i]) << 16) }
            }
        case .f16:
            #if arch(x86_64) || arch(arm64)
            let s = base.assumingMemoryBound(to: Float16.self)
            Parallel.forRanges(count, work: count) { r in
                for i in r { dst[i] = Float(s[i]) }
            }
            #else
            fatalError("Float16 is unavailable on this architecture")
            #endif
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
            let d = dst.baseAddress!.assumingMemoryBound(to: UInt16.self)
            for i in 0..<src.count { d[i] = bf16Bits(src[i]) }
        case .f16:
            let d = dst.baseAddress!.assumingMemoryBound(to: Float16.self)
            for i in 0..<src.count { d[i] = Float16(src[i]) }
        default:
            preconditionFailure("narrow to \(dtype)")
        }
    }

    /// bf16 bit pattern of `x`, round to nearest even.
    @inline(__always)
    static func bf16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let b = x.bitPattern
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
