// 256-entry codebooks for 8-bit blockwise quantization: bitsandbytes' dynamic map
// (`create_dynamic_map`, Dettmers 2015 "8-Bit Approximations") rebuilt value for value, and
// the 65 536-entry lookup table its C++ CPU quantizer (`csrc/cpu_ops.cpp`) rounds through.

/// A sorted table of 256 Float32 codes and the lookup table bitsandbytes' CPU quantizer uses.
public struct DynamicCodebook: Sendable, Equatable {
    /// The 256 code values, ascending.
    public let values: [Float]
    /// `lookup[i]` is the code for the grid point `-1 + 2i / 65535` (bnb's `build_quantize_lut`).
    let lookup: [UInt8]

    /// bitsandbytes' `create_dynamic_map(signed: true)`: the default for quantize_blockwise,
    /// Adam's first moment and the double-quantized NF4 absmax.
    public static let signed = try! DynamicCodebook(values: dynamicMap(signed: true))
    /// bitsandbytes' `create_dynamic_map(signed: false)`: Adam's second moment.
    public static let unsigned = try! DynamicCodebook(values: dynamicMap(signed: false))

    /// A codebook from 256 ascending values in [-1, 1] (ties allowed, as in bnb's zero padding).
    public init(values: [Float]) throws {
        guard values.count == 256 else {
            throw BlockQuantizationError.invalidCodebook("\(values.count) entries, expected 256")
        }
        guard zip(values, values.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw BlockQuantizationError.invalidCodebook("entries are not ascending")
        }
        self.values = values
        lookup = Self.buildLookup(values)
    }

    public static func == (a: DynamicCodebook, b: DynamicCodebook) -> Bool {
        a.values.map(\.bitPattern) == b.values.map(\.bitPattern)
    }

    static let lookupSize = 65_536

    /// bnb's `build_quantize_lut`: walk the grid upwards, advancing past every midpoint below it.
    static func buildLookup(_ code: [Float]) -> [UInt8] {
        let mid = (0..<255).map { Float(0.5) * (code[$0] + code[$0 + 1]) }
        var lut = [UInt8](repeating: 0, count: lookupSize)
        var c = 0
        for i in 0..<lookupSize {
            let v: Float = -1 + (2 * Float(i)) / Float(lookupSize - 1)
            while c < 255 && mid[c] < v { c += 1 }
            lut[i] = UInt8(c)
        }
        return lut
    }

    /// bnb's `norm_to_lut_index`: clamp to [-1, 1], map to 0…65535, round half up by truncation.
    /// NaN lands on index 0 (the C++ cast of NaN to an integer gives 0x80000000 on x86-64).
    @inline(__always)
    static func gridIndex(_ x: Float) -> Int {
        if x.isNaN { return 0 }
        let v = x < -1 ? -1 : (x > 1 ? 1 : x)
        let t = (v + 1) * 0.5
        return Int(t * 65535 + 0.5)
    }

    /// The code of a value already divided by its block's absmax: the grid index's entry.
    @inline(__always)
    func code(normalized x: Float) -> UInt8 { lookup[Self.gridIndex(x)] }

    /// bitsandbytes' `create_dynamic_map(signed, max_exponent_bits: 7, total_bits: 8)`.
    /// For exponent e = 0…6 the fraction midpoints of `linspace(0.1, 1, k)` are scaled by
    /// 10^(e-6) (and negated too when signed); then 0 and 1 are added, zeros pad to 256, sorted.
    public static func dynamicMap(signed: Bool) -> [Float] {
        var data: [Float] = []
        for e in 0..<7 {
            let k = signed ? (1 << e) + 1 : (1 << (e + 1)) + 1
            let b = torchLinspace(0.1, 1, count: k)
            let means = (0..<(k - 1)).map { (b[$0] + b[$0 + 1]) / 2 }
            // Python's 10 ** (e - 6) is a double; torch casts the scalar to Float32 to multiply.
            let scale = Float(pow10(e - 6))
            data += means.map { scale * $0 }
            if signed { data += means.map { -scale * $0 } }
        }
        data += [0, 1]
        data += [Float](repeating: 0, count: 256 - data.count)
        return data.sorted()
    }

    private static func pow10(_ e: Int) -> Double {
        [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1][e + 6]
    }

    /// `torch.linspace(start, end, count, dtype: float32)` on the CPU: the Float32 step
    /// `(end - start) / (count - 1)`, the first half counted up from `start` and the second
    /// half down from `end`, each a fused multiply-add (measured against torch 2.x).
    static func torchLinspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
        let step = (end - start) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in
            i < half ? start.addingProduct(step, Float(i))
                     : end.addingProduct(-step, Float(count - i - 1))
        }
    }
}
