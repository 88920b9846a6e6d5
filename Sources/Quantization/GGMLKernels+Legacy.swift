// Fast dequantization of the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and
// the plain element types. Each kernel decodes `blocks` whole blocks from `src` into `dst`;
// scales are read once per block and the inner loops have fixed trip counts so LLVM
// vectorises them. Layouts: ggml-common.h (block_q4_0 … block_q8_0); reference twins live
// in GGMLReference.swift.

/// Block kernels: each decodes whole blocks. The driver is GGMLType+Dequantize.swift.
enum GGMLKernels {
    @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    }

    /// Q4_0: d (f16), 16 bytes of nibbles; low nibbles are elements 0..<16, high 16..<32.
    static func q4_0(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 18
            let d = Half.float(u16(p, 0))
            let q = (p + 2).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                y[j] = Float(Int32(q[j] & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(q[j] >> 4) - 8) * d
            }
        }
    }

    /// Q4_1: d, m (f16), nibbles; y = d·q + m.
    static func q4_1(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 20
            let d = Half.float(u16(p, 0)), m = Half.float(u16(p, 2))
            let q = (p + 4).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                y[j] = Float(q[j] & 0x0F) * d + m
                y[j + 16] = Float(q[j] >> 4) * d + m
            }
        }
    }

    /// Q5_0: d (f16), 32 high bits (u32 LE, bit i for element i), nibbles; q - 16.
    static func q5_0(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 22
            let d = Half.float(u16(p, 0))
            let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let q = (p + 6).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                let h0 = Int32((qh >> UInt32(j)) & 1) << 4
                let h1 = Int32((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float((Int32(q[j] & 0x0F) | h0) - 16) * d
                y[j + 16] = Float((Int32(q[j] >> 4) | h1) - 16) * d
            }
        }
    }

    /// Q5_1: d, m (f16), 32 high bits, nibbles; y = d·q + m.
    static func q5_1(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 24
            let d = Half.float(u16(p, 0)), m = Half.float(u16(p, 2))
            let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let q = (p + 8).assumingMemoryBound(to: UInt8.self)
            let y = dst + b * 32
            for j in 0..<16 {
                let h0 = UInt32((qh >> UInt32(j)) & 1) << 4
                let h1 = UInt32((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float(UInt32(q[j] & 0x0F) | h0) * d + m
                y[j + 16] = Float(UInt32(q[j] >> 4) | h1) * d + m
            }
        }
    }

    /// Q8_0: d (f16), 32 int8.
    static func q8_0(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 34
            let d = Half.float(u16(p, 0))
            let q = (p + 2).assumingMemoryBound(to: Int8.self)
            let y = dst + b * 32
            for j in 0..<32 { y[j] = Float(q[j]) * d }
        }
    }

    /// F16 elements.
    static func f16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = Half.float(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    /// BF16 elements.
    static func bf16(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for i in 0..<count { dst[i] = Half.bfloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    /// F32 elements (copy; the source may be unaligned).
    static func f32(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    }
}
