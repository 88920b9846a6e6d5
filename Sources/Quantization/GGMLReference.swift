// Plain reference twins of the dequantization kernels: one element at a time, decoding
// that element's scale and bits straight from the block as ggml-quants.c describes it
// (dequantize_row_*). Slow on purpose; tests check the fast kernels against these, and
// these against values produced by gguf-py (scripts/make_ggml_fixtures.py).

enum GGMLReference {
    /// Element `i` (0..<blockSize) of the block of `type` that starts at `p`.
    static func element(_ type: GGMLType, block p: UnsafeRawPointer, index i: Int) -> Float? {
        func byte(_ o: Int) -> UInt8 { p.load(fromByteOffset: o, as: UInt8.self) }
        func int8(_ o: Int) -> Int { Int(Int8(bitPattern: byte(o))) }
        func half(_ o: Int) -> Float { Half.floatReference(UInt16(byte(o)) | UInt16(byte(o + 1)) << 8) }
        // Element i of a 32-block sits in byte i % 16 of the nibbles; the low nibble holds
        // the first 16 elements, the high nibble the last 16.
        func nibble(_ base: Int) -> Int { Int(i < 16 ? byte(base + i) & 0x0F : byte(base + i - 16) >> 4) }
        func qhBit(_ base: Int) -> Int { Int(byte(base + i / 8) >> UInt8(i % 8)) & 1 }
        switch type {
        case .f32:
            return Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(byte($1)) << (8 * $1) })
        case .f16:
            return half(0)
        case .bf16:
            return Float(bitPattern: (UInt32(byte(0)) | UInt32(byte(1)) << 8) << 16)
        case .q4_0:
            return Float(nibble(2) - 8) * half(0)
        case .q4_1:
            return Float(nibble(4)) * half(0) + half(2)
        case .q5_0:
            return Float((nibble(6) | qhBit(2) << 4) - 16) * half(0)
        case .q5_1:
            return Float(nibble(8) | qhBit(4) << 4) * half(0) + half(2)
        case .q8_0:
            return Float(int8(2 + i)) * half(0)
        case .q2_K:
            // 2-bit value: byte 32·(i/128) + i%32 of qs, bits 2·((i%128)/32).
            let q = Int(byte(16 + 32 * (i / 128) + i % 32) >> UInt8(2 * ((i % 128) / 32))) & 3
            let s = byte(i / 16)
            return half(80) * Float(s & 0x0F) * Float(q) - half(82) * Float(s >> 4)
        case .q3_K:
            let q = Int(byte(32 + 32 * (i / 128) + i % 32) >> UInt8(2 * ((i % 128) / 32))) & 3
            let h = Int(byte(i % 32) >> UInt8(i / 32)) & 1
            let j = i / 16
            let low = j < 8 ? byte(96 + j) & 0x0F : byte(96 + j - 8) >> 4
            let high = (byte(104 + j % 4) >> UInt8(2 * (j / 4))) & 3
            let scale = Int(low | high << 4) - 32
            return half(108) * Float(scale) * Float(q - (h == 1 ? 0 : 4))
        case .q4_K, .q5_K:
            let (sc, m) = scaleMin(subBlock: i / 32) { byte(4 + $0) }
            let qsBase = type == .q4_K ? 16 : 48
            let qbyte = byte(qsBase + 32 * (i / 64) + i % 32)
            var q = Int((i % 64) < 32 ? qbyte & 0x0F : qbyte >> 4)
            if type == .q5_K { q |= (Int(byte(16 + i % 32) >> UInt8(i / 32)) & 1) << 4 }
            return half(0) * Float(sc) * Float(q) - half(2) * Float(m)
        case .q6_K:
            let n = i / 128, r = i % 128, l = r % 32, quarter = r / 32
            let qlByte = byte(64 * n + l + (quarter & 1) * 32)
            let low = Int(quarter < 2 ? qlByte & 0x0F : qlByte >> 4)
            let high = Int(byte(128 + 32 * n + l) >> UInt8(2 * quarter)) & 3
            return half(208) * Float(int8(192 + i / 16)) * Float((low | high << 4) - 32)
        case .q8_K:
            let d = Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(byte($1)) << (8 * $1) })
            return d * Float(int8(4 + i))
        default:
            return nil
        }
    }

    /// 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K block, spelled out per
    /// get_scale_min_k4 in ggml-quants.c; `s(k)` reads byte k of the 12 packed bytes.
    static func scaleMin(subBlock j: Int, _ s: (Int) -> UInt8) -> (Int, Int) {
        if j < 4 { return (Int(s(j) & 63), Int(s(j + 4) & 63)) }
        return (Int(s(j + 4) & 0x0F) | Int(s(j - 4) >> 6) << 4,
                Int(s(j + 4) >> 4) | Int(s(j) >> 6) << 4)
    }

    /// Dequantizes `count` elements (whole blocks) from `src` into `dst`, one element at a time.
    static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int,
                           into dst: UnsafeMutablePointer<Float>) throws {
        guard type.byteCount(elements: count) != nil else {
            throw QuantizationError.notWholeBlocks(type, elements: count)
        }
        let bs = type.blockSize
        for k in 0..<count {
            let block = src + (k / bs) * type.bytesPerBlock
            guard let v = element(type, block: block, index: k % bs) else {
                throw QuantizationError.unsupportedType(type, operation: "dequantize (reference)")
            }
            dst[k] = v
        }
    }
}

extension GGMLReference {
    /// Twin of CKernels' lk_quantize_q8x, one value at a time: each 32 values become
    /// d = max|x| / 127, q = x · (1/d) rounded to nearest even (0 when d is 0), s = d · Σq.
    static func activationBlocks(_ x: [Float]) -> [(d: Float, s: Float, q: [Int8])] {
        stride(from: 0, to: x.count - 31, by: 32).map { start in
            let block = x[start..<(start + 32)]
            let amax = block.reduce(Float(0)) { Swift.max($0, abs($1)) }
            let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
            let q = block.map { Int8(($0 * id).rounded(.toNearestOrEven)) }
            return (d, d * Float(q.reduce(0) { $0 + Int($1) }), q)
        }
    }
}
