// IEEE half (f16) and bfloat16 bit patterns to Float32, one value at a time (block scales,
// Q8_0's scale when quantizing). The fast path is Swift's Float16 conversion (an instruction
// where the build targets one, else compiler-rt's exact routine); the reference decodes sign,
// exponent and mantissa by hand so the two can be checked. Bulk conversion is in CKernels.

enum Half {
    /// Float value of an f16 bit pattern (hardware conversion where available).
    @inline(__always)
    static func float(_ bits: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
        Float(Float16(bitPattern: bits))
        #else
        floatReference(bits)
        #endif
    }

    /// f16 bit pattern of `x`, round to nearest even (hardware conversion where available).
    @inline(__always)
    static func bits(_ x: Float) -> UInt16 {
        #if arch(x86_64) || arch(arm64)
        Float16(x).bitPattern
        #else
        bitsReference(x)
        #endif
    }

    /// Float value of an f16 bit pattern, decoded field by field (IEEE 754 binary16).
    static func floatReference(_ h: UInt16) -> Float {
        let negative = h & 0x8000 != 0
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        let magnitude: Float
        if exponent == 0 {
            magnitude = Float(mantissa) * 0x1p-24              // zero or subnormal
        } else if exponent == 31 {
            magnitude = mantissa == 0 ? .infinity : .nan
        } else {
            magnitude = Float(bitPattern: UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
        return negative ? -magnitude : magnitude
    }

    /// f16 bit pattern of `x` by integer rounding (nearest even), for platforms without Float16.
    static func bitsReference(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        let sign = UInt16((b >> 16) & 0x8000)
        if x.isNaN { return sign | 0x7E00 }
        let a = abs(x)
        if a >= 65520 { return sign | 0x7C00 }                 // rounds to infinity
        if a < 0x1p-14 {                                       // subnormal range: multiples of 2^-24
            let q = (a * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(q)
        }
        let exp = Int((b >> 23) & 0xFF) - 127 + 15
        var mant = b & 0x7F_FFFF
        var e = UInt32(exp)
        let rest = mant & 0x1FFF
        mant >>= 13
        if rest > 0x1000 || (rest == 0x1000 && mant & 1 == 1) {
            mant += 1
            if mant == 0x400 { mant = 0; e += 1 }
        }
        return sign | UInt16(e << 10 | mant)
    }

    /// Float value of a bfloat16 bit pattern (the upper half of a Float32).
    @inline(__always)
    static func bfloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
