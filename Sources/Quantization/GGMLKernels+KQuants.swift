// Fast dequantization of the k-quant super-blocks (256 elements): Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K and Q8_K. Layouts from ggml-common.h (block_q2_K … block_q8_K); the sub-block
// scales are unpacked once per super-block, then fixed-length inner loops vectorise.

extension GGMLKernels {
    /// The 6-bit scale and min of sub-block `j` (0..<8) packed into 12 bytes (Q4_K, Q5_K):
    /// bytes 0..<4 hold scales 0..<4 (low 6 bits), 4..<8 mins 0..<4; scales and mins 4..<8
    /// take their low 4 bits from bytes 8..<12 and their top 2 bits from bytes 0..<8.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 {
            return (Float(q[j] & 63), Float(q[j + 4] & 63))
        }
        let sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)
        let m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4)
        return (Float(sc), Float(m))
    }

    /// Q2_K: scales[16] (4-bit scale, 4-bit min), qs[64] (2-bit), d, dmin (f16).
    static func q2_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 84
            let sc = p.assumingMemoryBound(to: UInt8.self)
            let qs = sc + 16
            let d = Half.float(u16(p, 80)), dmin = Half.float(u16(p, 82))
            let y = dst + b * 256
            for n in 0..<2 {
                for j in 0..<4 {
                    let shift = UInt8(2 * j)
                    for half in 0..<2 {
                        let s = sc[8 * n + 2 * j + half]
                        let dl = d * Float(s & 0x0F), ml = dmin * Float(s >> 4)
                        let q = qs + 32 * n + 16 * half
                        let out = y + 128 * n + 32 * j + 16 * half
                        for l in 0..<16 { out[l] = dl * Float((q[l] >> shift) & 3) - ml }
                    }
                }
            }
        }
    }

    /// Q3_K: hmask[32], qs[64] (2-bit), scales[12] (16 × 6-bit, offset 32), d (f16).
    /// A clear hmask bit subtracts 4 from the 2-bit value.
    static func q3_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        var scales = [Float](repeating: 0, count: 16)
        for b in 0..<blocks {
            let p = src + b * 110
            let hm = p.assumingMemoryBound(to: UInt8.self)
            let qs = hm + 32
            let s = hm + 96
            let d = Half.float(u16(p, 108))
            for i in 0..<16 {
                let low = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4
                let high = (s[8 + i % 4] >> UInt8(2 * (i / 4))) & 3
                scales[i] = d * Float(Int(low | high << 4) - 32)
            }
            let y = dst + b * 256
            for n in 0..<2 {
                for j in 0..<4 {
                    let shift = UInt8(2 * j)
                    let bit = UInt8(4 * n + j)
                    for half in 0..<2 {
                        let dl = scales[8 * n + 2 * j + half]
                        let out = y + 128 * n + 32 * j + 16 * half
                        for l0 in 0..<16 {
                            let l = 16 * half + l0
                            let q2 = Int32((qs[32 * n + l] >> shift) & 3)
                            let h = Int32((hm[l] >> bit) & 1)
                            out[l0] = dl * Float(q2 - 4 + 4 * h)
                        }
                    }
                }
            }
        }
    }

    /// Q4_K: d, dmin (f16), scales[12] (8 × 6-bit scale + min), qs[128] nibbles. Each 32
    /// bytes of qs hold 64 elements: low nibbles first, then high nibbles.
    static func q4_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 144
            let d = Half.float(u16(p, 0)), dmin = Half.float(u16(p, 2))
            let sc = (p + 4).assumingMemoryBound(to: UInt8.self)
            let qs = sc + 12
            let y = dst + b * 256
            for g in 0..<4 {
                let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
                let d1 = d * s1, n1 = dmin * m1, d2 = d * s2, n2 = dmin * m2
                let q = qs + 32 * g
                let out = y + 64 * g
                for l in 0..<32 {
                    out[l] = d1 * Float(q[l] & 0x0F) - n1
                    out[l + 32] = d2 * Float(q[l] >> 4) - n2
                }
            }
        }
    }

    /// Q5_K: as Q4_K plus qh[32]: bit 2g of qh[l] is the fifth bit of element 64g + l,
    /// bit 2g+1 that of element 64g + 32 + l.
    static func q5_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 176
            let d = Half.float(u16(p, 0)), dmin = Half.float(u16(p, 2))
            let sc = (p + 4).assumingMemoryBound(to: UInt8.self)
            let qh = sc + 12
            let qs = qh + 32
            let y = dst + b * 256
            for g in 0..<4 {
                let (s1, m1) = scaleMinK4(2 * g, sc), (s2, m2) = scaleMinK4(2 * g + 1, sc)
                let d1 = d * s1, n1 = dmin * m1, d2 = d * s2, n2 = dmin * m2
                let q = qs + 32 * g
                let out = y + 64 * g
                let b1 = UInt8(2 * g), b2 = UInt8(2 * g + 1)
                for l in 0..<32 {
                    let h1 = ((qh[l] >> b1) & 1) << 4, h2 = ((qh[l] >> b2) & 1) << 4
                    out[l] = d1 * Float((q[l] & 0x0F) | h1) - n1
                    out[l + 32] = d2 * Float((q[l] >> 4) | h2) - n2
                }
            }
        }
    }

    /// Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (f16).
    static func q6_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 210
            let d = Half.float(u16(p, 208))
            let y = dst + b * 256
            for n in 0..<2 {
                let ql = p.assumingMemoryBound(to: UInt8.self) + 64 * n
                let qh = p.assumingMemoryBound(to: UInt8.self) + 128 + 32 * n
                let sc = (p + 192).assumingMemoryBound(to: Int8.self) + 8 * n
                let out = y + 128 * n
                for half in 0..<2 {
                    let d0 = d * Float(sc[half]), d1 = d * Float(sc[half + 2])
                    let d2 = d * Float(sc[half + 4]), d3 = d * Float(sc[half + 6])
                    for l0 in 0..<16 {
                        let l = 16 * half + l0
                        let h = qh[l]
                        let q1 = Int32((ql[l] & 0x0F) | ((h & 3) << 4)) - 32
                        let q2 = Int32((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                        let q3 = Int32((ql[l] >> 4) | (((h >> 4) & 3) << 4)) - 32
                        let q4 = Int32((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32
                        out[l] = d0 * Float(q1)
                        out[l + 32] = d1 * Float(q2)
                        out[l + 64] = d2 * Float(q3)
                        out[l + 96] = d3 * Float(q4)
                    }
                }
            }
        }
    }

    /// Q8_K: d (f32), qs[256] (int8), bsums[16] (int16, unused for dequantization).
    static func q8_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let p = src + b * 292
            let d = p.loadUnaligned(as: Float.self)
            let q = (p + 4).assumingMemoryBound(to: Int8.self)
            let y = dst + b * 256
            for j in 0..<256 { y[j] = Float(q[j]) * d }
        }
    }
}
