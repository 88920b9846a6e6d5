// The 4- and 5-bit formats of 32-element blocks (Q4_0, Q4_1, Q5_0, Q5_1), one kernel for
// all four, following quantize_row_q{4,5}_{0,1}_ref in ggml-quants.c. "_0" is symmetric:
// d = (the signed value of largest magnitude) / -2^(bits-1), q = x/d + 2^(bits-1).
// "_1" stores the minimum m too: d = (max - min) / (2^bits - 1), q = (x - m)/d. Codes are
// truncated after adding 0.5, as the C casts do.
// Layout (ggml-common.h): f16 d, [f16 m], [u32 fifth bits], 16 bytes of nibbles, where byte j
// holds element j in its low nibble and element j + 16 in its high nibble.

extension GGMLType {
    /// What tells the four legacy formats apart.
    struct LegacyFormat {
        /// 4 or 5.
        let bits: Int
        /// True for Q4_1/Q5_1 (minimum stored), false for Q4_0/Q5_0.
        let hasMin: Bool

        init(_ type: GGMLType) {
            bits = type == .q4_0 || type == .q4_1 ? 4 : 5
            hasMin = type == .q4_1 || type == .q5_1
        }

        /// Largest code (15 or 31).
        var top: Int { (1 << bits) - 1 }
        /// Byte offset of the nibbles.
        var nibbleOffset: Int { 2 + (hasMin ? 2 : 0) + (bits == 5 ? 4 : 0) }
    }

    /// One legacy block: 32 finite floats at `x` into the block at `y`.
    @inline(__always)
    static func quantizeLegacyBlock(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer, _ f: LegacyFormat) {
        let d: Float, offset: Float, bias: Float
        if f.hasMin {
            // Sequential strict comparisons, as in C: which zero (+0 or -0) becomes m matters.
            var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
            for j in 0..<32 {
                if x[j] < lo { lo = x[j] }
                if x[j] > hi { hi = x[j] }
            }
            d = (hi - lo) / Float(f.top)
            offset = lo
            bias = 0.5
            y.storeBytes(of: GGMLMath.half(lo), toByteOffset: 2, as: UInt16.self)
        } else {
            // The first element of largest magnitude, with its sign (all zeros: +0, so d = -0).
            var amax: Float = 0, signed: Float = 0
            for j in 0..<32 where amax < Swift.abs(x[j]) {
                amax = Swift.abs(x[j])
                signed = x[j]
            }
            d = signed / -Float(1 << (f.bits - 1))
            offset = 0
            bias = Float(1 << (f.bits - 1)) + 0.5
        }
        let id: Float = d != 0 ? 1 / d : 0
        y.storeBytes(of: GGMLMath.half(d), as: UInt16.self)

        // ggml clamps to the top code for all but Q5_1, where the clamp can never bind.
        @inline(__always) func code(_ v: Float) -> UInt8 {
            min(UInt8(f.top), GGMLMath.lowByte((v - offset) * id + bias))
        }
        let qs = (y + f.nibbleOffset).assumingMemoryBound(to: UInt8.self)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = code(x[j]), b = code(x[j + 16])
            qs[j] = (a & 0x0F) | (b & 0x0F) << 4
            qh |= UInt32(a >> 4) << j | UInt32(b >> 4) << (j + 16)
        }
        if f.bits == 5 { (y + f.nibbleOffset - 4).storeBytes(of: qh.littleEndian, as: UInt32.self) }
    }
}
