// The k-quants Q4_K, Q5_K (one kernel) and Q6_K: 256-element super-blocks whose sub-blocks
// get their own scale, chosen by ggml's searches (make_qkx2_quants for Q4_K/Q5_K,
// make_qx_quants for Q6_K in ggml-quants.c), then stored as 6- or 8-bit multiples of one f16
// super-block scale. The searches run on eight sub-blocks at once, one per SIMD lane, each
// lane doing exactly the scalar Float32 operations in ggml's order; branches become lane
// masks. Layouts (ggml-common.h) are spelled out where the bytes are written.

extension GGMLType {
    /// SIMD8<Float> slots a k-quant kernel needs as scratch.
    enum KQuantScratch { static let count = 128 }

    /// Q4_K (bits 4) or Q5_K (bits 5), quantize_row_q{4,5}_K_ref: 256 finite floats at `x`
    /// into 144 or 176 bytes at `y`. Sub-blocks of 32 get a scale and a min each.
    static func quantizeKWithMinBlock(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer,
                                      bits: Int, scratch: UnsafeMutablePointer<SIMD8<Float>>) {
        let nmax = Int32((1 << bits) - 1)
        let xt = scratch, w = scratch + 32, L = scratch + 64, laux = scratch + 96
        // Lane j holds sub-block j: xt[i][j] = x[32j + i].
        for i in 0..<32 {
            xt[i] = SIMD8(x[i], x[32 + i], x[64 + i], x[96 + i], x[128 + i], x[160 + i], x[192 + i], x[224 + i])
        }
        // Weights: rms of the sub-block plus |x|.
        var sumX2 = SIMD8<Float>()
        for i in 0..<32 { sumX2 += xt[i] * xt[i] }
        let avX = (sumX2 / 32).squareRoot()
        for i in 0..<32 { w[i] = avX + GGMLMath.abs(xt[i]) }

        let (rmin, nstep): (Float, Int) = bits == 4 ? (-1, 20) : (-0.5, 15)
        let (scales, mins) = searchScaleMin(xt, w, L, laux, nmax: nmax, rmin: rmin, rdelta: 0.1, nstep: nstep)

        // Super-block scales: 6-bit multiples of max/63.
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var ls = SIMD8<UInt8>(), lm = SIMD8<UInt8>()
        for j in 0..<8 {
            // C stores nearest_int in a uint8_t before clamping: a negative scale wraps to 63.
            ls[j] = min(63, UInt8(truncatingIfNeeded: GGMLMath.nearestInt(invScale * scales[j])))
            lm[j] = min(63, UInt8(truncatingIfNeeded: GGMLMath.nearestInt(invMin * mins[j])))
        }
        let d = GGMLMath.half(maxScale / 63), dmin = GGMLMath.half(maxMin / 63)
        y.storeBytes(of: d, as: UInt16.self)
        y.storeBytes(of: dmin, toByteOffset: 2, as: UInt16.self)
        packScaleMin(ls, lm, into: (y + 4).assumingMemoryBound(to: UInt8.self))

        // Requantize every element against the rounded scales (sub-blocks whose scale rounds
        // to zero keep the search's codes).
        var dv = SIMD8<Float>(), dmv = SIMD8<Float>()
        for j in 0..<8 {
            dv[j] = Half.float(d) * Float(ls[j])
            dmv[j] = Half.float(dmin) * Float(lm[j])
        }
        let requantize = dv .!= 0
        for i in 0..<32 {
            let l = GGMLMath.clamp(GGMLMath.nearestInt((xt[i] + dmv) / dv), 0, nmax)
            L[i] = L[i].replacing(with: GGMLMath.float(l), where: requantize)
        }

        @inline(__always) func code(_ subBlock: Int, _ i: Int) -> UInt8 { UInt8(L[i][subBlock]) }
        if bits == 4 {
            // qs[128] at 16: byte 32c + i = sub-block 2c element i (low), sub-block 2c+1 (high).
            let qs = (y + 16).assumingMemoryBound(to: UInt8.self)
            for c in 0..<4 {
                for i in 0..<32 { qs[32 * c + i] = code(2 * c, i) | code(2 * c + 1, i) << 4 }
            }
        } else {
            // qh[32] at 16: bit j of byte i = fifth bit of sub-block j element i; qs[128] at 48.
            let qh = (y + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (y + 48).assumingMemoryBound(to: UInt8.self)
            for i in 0..<32 {
                var h: UInt8 = 0
                for j in 0..<8 { h |= (code(j, i) >> 4) << j }
                qh[i] = h
            }
            for c in 0..<4 {
                for i in 0..<32 { qs[32 * c + i] = (code(2 * c, i) & 0x0F) | (code(2 * c + 1, i) & 0x0F) << 4 }
            }
        }
    }

    /// make_qkx2_quants (use_mad false) on eight sub-blocks of 32, one per lane: codes 0...nmax
    /// into `L` (as floats), returns each lane's scale and the min it subtracts (≥ 0).
    /// `laux` is scratch for 32 lanes' candidate codes.
    @inline(__always)
    static func searchScaleMin(_ xt: UnsafeMutablePointer<SIMD8<Float>>, _ w: UnsafeMutablePointer<SIMD8<Float>>,
                               _ L: UnsafeMutablePointer<SIMD8<Float>>, _ laux: UnsafeMutablePointer<SIMD8<Float>>,
                               nmax: Int32, rmin: Float, rdelta: Float, nstep: Int)
        -> (scale: SIMD8<Float>, min: SIMD8<Float>) {
        var mn = xt[0], mx = xt[0]
        let sumW: SIMD8<Float>, sumX: SIMD8<Float>
        do {
            var sw = w[0], sx = w[0] * xt[0]
            for i in 1..<32 {
                mn = mn.replacing(with: xt[i], where: xt[i] .< mn)
                mx = mx.replacing(with: xt[i], where: xt[i] .> mx)
                sw += w[i]
                sx += w[i] * xt[i]
            }
            sumW = sw
            sumX = sx
        }
        mn = mn.replacing(with: 0, where: mn .> 0)
        // A flat lane ends here in C (codes 0, scale 0); its lanes compute on, then are reset.
        let flat = mx .== mn, flatMin = mn
        let fnmax = Float(nmax)

        var iscale = fnmax / (mx - mn)
        var scale = 1 / iscale
        var best = SIMD8<Float>()
        for i in 0..<32 {
            let l = GGMLMath.float(GGMLMath.clamp(GGMLMath.nearestInt(iscale * (xt[i] - mn)), 0, nmax))
            L[i] = l
            let diff = scale * l + mn - xt[i]
            best += w[i] * (diff * diff)
        }
        for step in 0...nstep {
            // `mn` may have moved in an earlier step: C divides by the current max - min.
            iscale = (rmin + rdelta * Float(step) + fnmax) / (mx - mn)
            var sumL = SIMD8<Float>(), sumL2 = SIMD8<Float>(), sumXL = SIMD8<Float>()
            for i in 0..<32 {
                let l = GGMLMath.float(GGMLMath.clamp(GGMLMath.nearestInt(iscale * (xt[i] - mn)), 0, nmax))
                laux[i] = l
                let wl = w[i] * l
                sumL += wl
                sumL2 += wl * l
                sumXL += wl * xt[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            let positive = thisMin .> 0
            thisMin = thisMin.replacing(with: 0, where: positive)
            thisScale = thisScale.replacing(with: sumXL / sumL2, where: positive)
            var err = SIMD8<Float>()
            for i in 0..<32 {
                let diff = thisScale * laux[i] + thisMin - xt[i]
                err += w[i] * (diff * diff)
            }
            let better = (D .> 0) .& (err .< best)
            for i in 0..<32 { L[i] = L[i].replacing(with: laux[i], where: better) }
            best = best.replacing(with: err, where: better)
            scale = scale.replacing(with: thisScale, where: better)
            mn = mn.replacing(with: thisMin, where: better)
        }
        for i in 0..<32 { L[i] = L[i].replacing(with: 0, where: flat) }
        return (scale.replacing(with: 0, where: flat), -(mn.replacing(with: flatMin, where: flat)))
    }

    /// The 12 scale bytes of Q4_K/Q5_K (get_scale_min_k4 reads them back): sub-blocks 0-3
    /// keep scale and min in bytes j and j+4 (6 bits); 4-7 put their low four bits in byte
    /// j+4 and their top two bits in bits 6-7 of bytes j-4 (scale) and j (min).
    static func packScaleMin(_ ls: SIMD8<UInt8>, _ lm: SIMD8<UInt8>, into s: UnsafeMutablePointer<UInt8>) {
        for j in 0..<4 {
            s[j] = ls[j] | (ls[j + 4] >> 4) << 6
            s[j + 4] = lm[j] | (lm[j + 4] >> 4) << 6
            s[j + 8] = (ls[j + 4] & 0x0F) | (lm[j + 4] & 0x0F) << 4
        }
    }

    /// Q6_K, quantize_row_q6_K_ref: 256 finite floats at `x` into 210 bytes at `y`. Sixteen
    /// sub-blocks of 16 get a signed 8-bit scale; codes are 6-bit (stored + 32).
    static func quantizeQ6KBlock(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer,
                                 scratch: UnsafeMutablePointer<SIMD8<Float>>) {
        // Two groups of eight sub-blocks; group g lane k is sub-block 8g + k:
        // xt[16g + i][k] = x[16(8g + k) + i]. L holds codes 0...63 as floats.
        let xt = scratch, L = scratch + 32, cand = scratch + 64
        var scales = SIMD16<Float>()
        for g in 0..<2 {
            for i in 0..<16 {
                let p = x + 128 * g + i
                xt[16 * g + i] = SIMD8(p[0], p[16], p[32], p[48], p[64], p[80], p[96], p[112])
            }
            let s = searchSymmetric(xt + 16 * g, L + 16 * g, cand + 16 * g)
            for k in 0..<8 { scales[8 * g + k] = s[k] }
        }

        var maxScale: Float = 0, maxAbs: Float = 0
        for ib in 0..<16 where Swift.abs(scales[ib]) > maxAbs {
            maxAbs = Swift.abs(scales[ib])
            maxScale = scales[ib]
        }
        if maxAbs < 1e-15 {                                         // GROUP_MAX_EPS
            y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale = -128 / maxScale
        let d = GGMLMath.half(1 / iscale)
        y.storeBytes(of: d, toByteOffset: 208, as: UInt16.self)
        let sc = (y + 192).assumingMemoryBound(to: Int8.self)
        for ib in 0..<16 {
            sc[ib] = Int8(truncatingIfNeeded: min(127, GGMLMath.nearestInt(iscale * scales[ib])))
        }
        for g in 0..<2 {
            var dv = SIMD8<Float>()
            for k in 0..<8 { dv[k] = Half.float(d) * Float(sc[8 * g + k]) }
            let requantize = dv .!= 0
            for i in 0..<16 {
                let l = GGMLMath.clamp(GGMLMath.nearestInt(xt[16 * g + i] / dv), -32, 31)
                L[16 * g + i] = L[16 * g + i].replacing(with: GGMLMath.float(l &+ 32), where: requantize)
            }
        }

        // ql[128] at 0, qh[64] at 128. In each half h (128 elements), element l, l+32, l+64,
        // l+96 (l < 32) share ql[64h + l] / ql[64h + l + 32] (low nibbles) and qh[32h + l].
        @inline(__always) func code(_ e: Int) -> UInt8 {
            let ib = e / 16
            return UInt8(L[16 * (ib / 8) + e % 16][ib % 8])
        }
        let ql = y.assumingMemoryBound(to: UInt8.self), qh = ql + 128
        for h in 0..<2 {
            for l in 0..<32 {
                let e = 128 * h + l
                let q1 = code(e), q2 = code(e + 32), q3 = code(e + 64), q4 = code(e + 96)
                ql[64 * h + l] = (q1 & 0x0F) | (q3 & 0x0F) << 4
                ql[64 * h + l + 32] = (q2 & 0x0F) | (q4 & 0x0F) << 4
                qh[32 * h + l] = q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6
            }
        }
    }

    /// make_qx_quants(n 16, nmax 32, rmse_type 1, no weights) on eight sub-blocks, one per lane:
    /// codes 0...63 into `L` (as floats), returns each lane's scale. `cand` is scratch.
    @inline(__always)
    static func searchSymmetric(_ xt: UnsafeMutablePointer<SIMD8<Float>>, _ L: UnsafeMutablePointer<SIMD8<Float>>,
                                _ cand: UnsafeMutablePointer<SIMD8<Float>>) -> SIMD8<Float> {
        let nmax: Int32 = 32
        var amax = SIMD8<Float>(), mx = SIMD8<Float>()
        for i in 0..<16 {
            let ax = GGMLMath.abs(xt[i])
            let larger = ax .> amax
            amax = amax.replacing(with: ax, where: larger)
            mx = mx.replacing(with: xt[i], where: larger)
        }
        let zero = amax .< 1e-15                                    // GROUP_MAX_EPS: codes 0, scale 0

        // Codes and weighted sums for one trial inverse scale; w = x² (rmse_type 1).
        @inline(__always) func trial(_ iscale: SIMD8<Float>, into codes: UnsafeMutablePointer<SIMD8<Float>>)
            -> (SIMD8<Float>, SIMD8<Float>) {
            var sumLX = SIMD8<Float>(), sumL2 = SIMD8<Float>()
            for i in 0..<16 {
                let l = GGMLMath.clamp(GGMLMath.nearestInt(iscale * xt[i]), -nmax, nmax - 1)
                codes[i] = GGMLMath.float(l &+ nmax)
                let lf = GGMLMath.float(l), wx = xt[i] * xt[i]
                sumLX += wx * xt[i] * lf
                sumL2 += wx * lf * lf
            }
            return (sumLX, sumL2)
        }
        var (sumLX, sumL2) = trial(Float(-nmax) / mx, into: L)
        var scale = (sumLX / sumL2).replacing(with: 0, where: sumL2 .== 0)
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            (sumLX, sumL2) = trial(-(Float(nmax) + 0.1 * Float(step)) / mx, into: cand)
            let better = (sumL2 .> 0) .& (sumLX * sumLX .> best * sumL2)
            for i in 0..<16 { L[i] = L[i].replacing(with: cand[i], where: better) }
            scale = scale.replacing(with: sumLX / sumL2, where: better)
            best = best.replacing(with: scale * sumLX, where: better)
        }
        for i in 0..<16 { L[i] = L[i].replacing(with: 0, where: zero) }
        return scale.replacing(with: 0, where: zero)
    }
}
