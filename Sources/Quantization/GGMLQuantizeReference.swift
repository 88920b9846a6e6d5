// Plain reference twins of the GGML quantizers: one block at a time over arrays, scalar
// loops written as ggml-quants.c describes each step (quantize_row_*_ref, make_qkx2_quants,
// make_qx_quants), Float32 operations in the same order. Slow on purpose; tests check the
// fast kernels against these and both against bytes from ggml (scripts/make_quant_fixtures.py).

enum GGMLQuantizeReference {
    /// Quantizes `x` (whole blocks) to `type`'s blocks; traps on an unsupported type.
    static func quantize(_ type: GGMLType, _ x: [Float]) -> [UInt8] {
        precondition(type.canQuantize, "no reference quantizer for \(type)")
        precondition(x.count % type.blockSize == 0, "\(type) reference needs whole blocks")
        let n = type.blockSize
        var out: [UInt8] = []
        out.reserveCapacity(x.count / n * type.bytesPerBlock)
        for b in 0..<(x.count / n) {
            let block = Array(x[(n * b)..<(n * b + n)])
            switch type {
            case .bf16: appendLE(bf16(block[0]), to: &out)
            case .q8_0: out += q8_0(block)
            case .q4_0: out += legacy(block, bits: 4, withMin: false)
            case .q4_1: out += legacy(block, bits: 4, withMin: true)
            case .q5_0: out += legacy(block, bits: 5, withMin: false)
            case .q5_1: out += legacy(block, bits: 5, withMin: true)
            case .q4_K: out += kWithMin(block, bits: 4)
            case .q5_K: out += kWithMin(block, bits: 5)
            case .q6_K: out += q6_K(block)
            default: preconditionFailure("no reference quantizer for \(type)")
            }
        }
        return out
    }

    // MARK: Helpers

    /// f16 bits, field by field (Half.bitsReference already turns NaN into sign | 0x7E00).
    static func half(_ x: Float) -> UInt16 { Half.bitsReference(x) }

    /// nearest_int: round to nearest even through the 1.5·2^23 bit trick.
    static func nearestInt(_ x: Float) -> Int {
        let bits = (x + 12_582_912).bitPattern
        return Int(bits & 0x7F_FFFF) - 0x40_0000
    }

    /// A C cast of a float to int8_t / uint8_t on x86-64: truncate to 32 bits (0x80000000
    /// when NaN or out of range), keep the low byte.
    static func castToByte(_ x: Float) -> UInt8 {
        let i: Int32 = (x >= -2_147_483_648 && x < 2_147_483_648) ? Int32(x.rounded(.towardZero)) : Int32.min
        return UInt8(truncatingIfNeeded: i)
    }

    static func appendLE(_ v: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(v & 0xFF))
        out.append(UInt8(v >> 8))
    }

    // MARK: BF16, Q8_0, Q4_0 / Q4_1 / Q5_0 / Q5_1

    /// ggml_compute_fp32_to_bf16: NaN → upper half with the quiet bit; else round to nearest even.
    static func bf16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(u >> 16) | 64 }
        return UInt16((UInt64(u) + 0x7FFF + UInt64((u >> 16) & 1)) >> 16)
    }

    /// quantize_row_q8_0_ref for one block of 32.
    static func q8_0(_ x: [Float]) -> [UInt8] {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        var out: [UInt8] = []
        appendLE(half(d), to: &out)
        for v in x { out.append(castToByte((v * id).rounded(.toNearestOrAwayFromZero))) }
        return out
    }

    /// quantize_row_q{4,5}_{0,1}_ref for one block of 32.
    static func legacy(_ x: [Float], bits: Int, withMin: Bool) -> [UInt8] {
        let top = (1 << bits) - 1
        var codes = [Int](repeating: 0, count: 32)
        var out: [UInt8] = []
        if withMin {
            var lo = Float.greatestFiniteMagnitude
            var hi = -Float.greatestFiniteMagnitude
            for v in x {
                if v < lo { lo = v }
                if v > hi { hi = v }
            }
            let d = (hi - lo) / Float(top)
            let id: Float = d != 0 ? 1 / d : 0
            appendLE(half(d), to: &out)
            appendLE(half(lo), to: &out)
            for j in 0..<32 { codes[j] = Int(castToByte((x[j] - lo) * id + 0.5)) }
        } else {
            var amax: Float = 0
            var signedMax: Float = 0
            for v in x where amax < abs(v) {
                amax = abs(v)
                signedMax = v
            }
            let half = Float(1 << (bits - 1))
            let d = signedMax / -half
            let id: Float = d != 0 ? 1 / d : 0
            appendLE(Self.half(d), to: &out)
            for j in 0..<32 { codes[j] = Int(castToByte(x[j] * id + (half + 0.5))) }
        }
        // Q5_1 has no clamp in ggml, but its codes never pass 31 anyway.
        codes = codes.map { min(top, $0) }
        if bits == 5 {
            var qh: UInt32 = 0
            for j in 0..<32 { qh |= UInt32(codes[j] >> 4) << j }
            for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: qh >> (8 * k))) }
        }
        for j in 0..<16 { out.append(UInt8(codes[j] & 0x0F | (codes[j + 16] & 0x0F) << 4)) }
        return out
    }

    // MARK: Q4_K / Q5_K

    /// make_qkx2_quants with use_mad false: codes 0...nmax for `x` with weights `w`,
    /// returns (scale, the min subtracted, ≥ 0 unless all of `x` is one value).
    static func qkx2(_ x: [Float], _ w: [Float], nmax: Int, rmin: Float, rdelta: Float, nstep: Int,
                     codes L: inout [Int]) -> (scale: Float, min: Float) {
        let n = x.count
        var lo = x[0], hi = x[0]
        var sumW = w[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            sumW += w[i]
            sumX += w[i] * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo {
            L = [Int](repeating: 0, count: n)
            return (0, -lo)
        }
        var iscale = Float(nmax) / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            L[i] = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
            let diff = scale * Float(L[i]) + lo - x[i]
            bestError += w[i] * (diff * diff)
        }
        var candidate = [Int](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - lo))))
                candidate[i] = l
                sumL += w[i] * Float(l)
                sumL2 += w[i] * Float(l) * Float(l)
                sumXL += w[i] * Float(l) * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            guard D > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<n {
                let diff = thisScale * Float(candidate[i]) + thisMin - x[i]
                error += w[i] * (diff * diff)
            }
            if error < bestError {
                L = candidate
                bestError = error
                scale = thisScale
                lo = thisMin
            }
        }
        return (scale, -lo)
    }

    /// quantize_row_q4_K_ref (bits 4) / quantize_row_q5_K_ref (bits 5) for one block of 256.
    static func kWithMin(_ x: [Float], bits: Int) -> [UInt8] {
        let nmax = (1 << bits) - 1
        var L = [Int](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 8), mins = scales
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let sub = Array(x[(32 * j)..<(32 * j + 32)])
            var sumX2: Float = 0
            for v in sub { sumX2 += v * v }
            let avX = (sumX2 / 32).squareRoot()
            let w = sub.map { avX + abs($0) }
            var codes = [Int](repeating: 0, count: 32)
            let r = bits == 4
                ? qkx2(sub, w, nmax: nmax, rmin: -1, rdelta: 0.1, nstep: 20, codes: &codes)
                : qkx2(sub, w, nmax: nmax, rmin: -0.5, rdelta: 0.1, nstep: 15, codes: &codes)
            L.replaceSubrange((32 * j)..<(32 * j + 32), with: codes)
            scales[j] = r.scale
            mins[j] = r.min
            if r.scale > maxScale { maxScale = r.scale }
            if r.min > maxMin { maxMin = r.min }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        // nearest_int lands in a uint8_t before MIN(63, ·).
        let ls = scales.map { min(63, Int(UInt8(truncatingIfNeeded: nearestInt(invScale * $0)))) }
        let lm = mins.map { min(63, Int(UInt8(truncatingIfNeeded: nearestInt(invMin * $0)))) }
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            if j < 4 {
                packed[j] = UInt8(ls[j])
                packed[j + 4] = UInt8(lm[j])
            } else {
                packed[j + 4] = UInt8(ls[j] & 0xF | (lm[j] & 0xF) << 4)
                packed[j - 4] |= UInt8((ls[j] >> 4) << 6)
                packed[j] |= UInt8((lm[j] >> 4) << 6)
            }
        }
        let d = half(maxScale / 63), dmin = half(maxMin / 63)
        for j in 0..<8 {
            // The scale and min as get_scale_min_k4 reads them back.
            let (sc, m) = GGMLReference.scaleMin(subBlock: j) { packed[$0] }
            let dj = Half.floatReference(d) * Float(sc)
            if dj == 0 { continue }
            let dm = Half.floatReference(dmin) * Float(m)
            for i in (32 * j)..<(32 * j + 32) { L[i] = max(0, min(nmax, nearestInt((x[i] + dm) / dj))) }
        }
        var out: [UInt8] = []
        appendLE(d, to: &out)
        appendLE(dmin, to: &out)
        out += packed
        if bits == 5 {
            var qh = [UInt8](repeating: 0, count: 32)
            for i in 0..<256 where L[i] > 15 { qh[i % 32] |= UInt8(1 << (i / 32)) }
            out += qh
        }
        for chunk in stride(from: 0, to: 256, by: 64) {
            for l in 0..<32 { out.append(UInt8(L[chunk + l] & 0xF | (L[chunk + l + 32] & 0xF) << 4)) }
        }
        return out
    }

    // MARK: Q6_K

    /// make_qx_quants with rmse_type 1 and no weights (w = x²): codes 0...2·nmax-1 (signed
    /// value + nmax) for `x`, returns the scale.
    static func qx(_ x: [Float], nmax: Int, codes L: inout [Int]) -> Float {
        var amax: Float = 0, signedMax: Float = 0
        for v in x where abs(v) > amax {
            amax = abs(v)
            signedMax = v
        }
        if amax < 1e-15 {                                           // GROUP_MAX_EPS
            L = [Int](repeating: 0, count: x.count)
            return 0
        }
        func sums(_ iscale: Float) -> (codes: [Int], sumLX: Float, sumL2: Float) {
            var codes: [Int] = [], sumLX: Float = 0, sumL2: Float = 0
            for v in x {
                let l = max(-nmax, min(nmax - 1, nearestInt(iscale * v)))
                codes.append(l + nmax)
                let w = v * v
                sumLX += w * v * Float(l)
                sumL2 += w * Float(l) * Float(l)
            }
            return (codes, sumLX, sumL2)
        }
        let first = sums(Float(-nmax) / signedMax)
        L = first.codes
        var scale: Float = first.sumL2 != 0 ? first.sumLX / first.sumL2 : 0
        var best = scale * first.sumLX
        for step in -9...9 where step != 0 {
            let t = sums(-(Float(nmax) + 0.1 * Float(step)) / signedMax)
            if t.sumL2 > 0 && t.sumLX * t.sumLX > best * t.sumL2 {
                L = t.codes
                scale = t.sumLX / t.sumL2
                best = scale * t.sumLX
            }
        }
        return scale
    }

    /// quantize_row_q6_K_ref for one block of 256.
    static func q6_K(_ x: [Float]) -> [UInt8] {
        var L = [Int](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbs: Float = 0
        for ib in 0..<16 {
            var codes = [Int](repeating: 0, count: 16)
            scales[ib] = qx(Array(x[(16 * ib)..<(16 * ib + 16)]), nmax: 32, codes: &codes)
            L.replaceSubrange((16 * ib)..<(16 * ib + 16), with: codes)
            if abs(scales[ib]) > maxAbs {
                maxAbs = abs(scales[ib])
                maxScale = scales[ib]
            }
        }
        if maxAbs < 1e-15 { return [UInt8](repeating: 0, count: 210) }
        let iscale = -128 / maxScale
        let d = half(1 / iscale)
        let sc = scales.map { Int8(truncatingIfNeeded: min(127, nearestInt(iscale * $0))) }
        for ib in 0..<16 {
            let dj = Half.floatReference(d) * Float(sc[ib])
            if dj == 0 { continue }
            for i in (16 * ib)..<(16 * ib + 16) { L[i] = max(-32, min(31, nearestInt(x[i] / dj))) + 32 }
        }
        var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
        for i in 0..<256 {
            // Element i: half h, quarter q (which 32), lane l within the quarter.
            let h = i / 128, q = (i % 128) / 32, l = i % 32
            ql[64 * h + 32 * (q & 1) + l] |= UInt8(L[i] & 0xF) << (q < 2 ? 0 : 4)
            qh[32 * h + l] |= UInt8(L[i] >> 4) << (2 * q)
        }
        var out = ql + qh
        out += sc.map { UInt8(bitPattern: $0) }
        appendLE(d, to: &out)
        return out
    }
}
