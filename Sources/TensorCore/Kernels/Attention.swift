// Causal grouped-query attention, computed a block of query rows at a time (flash-style):
// scores for one block of BQ rows against the visible keys live in a BQ×Tk scratch, so
// memory is O(BQ·T) per head block, never T×T per head per layer. Forward saves only the
// row logsumexp; backward recomputes the probabilities from it.
// q: [B, Tq, Hq, hd]   k, v: [B, Tk, Hkv, hd]   out: [B, Tq, Hq, hd]   lse: [B, Hq, Tq]
// Query i sees key j when j ≤ i + queryOffset (causal) and, with segments, when both
// tokens belong to the same packed example; with a sliding window W also only when
// j > i + queryOffset − W (the last W positions, itself included, as transformers masks).
// With soft-capping c (Gemma 2) a score s becomes c·tanh(s/c) before masking and softmax.
// Where segment ids never decrease along a row (packed and padding-free batches), a block of
// query rows starts its keys at its first row's segment: examples back to back cost about the
// sum of their own attention, not that of one long row.
internal import CKernels

/// Sizes and masking of one attention call.
struct AttentionShape {
    var batch: Int
    var queryLength: Int
    var keyLength: Int
    var queryHeads: Int
    var kvHeads: Int
    var headDim: Int
    /// Absolute position of query row 0 relative to key 0 (the KV-cache length in generation).
    var queryOffset: Int = 0
    var causal: Bool = true
    var scale: Float
    /// Sliding window: query i sees only keys j > i + queryOffset − window (nil: all earlier keys).
    var window: Int? = nil
    /// Attention logit soft-capping: scores become c·tanh(s/c) (nil: none).
    var softcap: Float? = nil

    var groupSize: Int { queryHeads / kvHeads }
    /// Query rows per block. A causal block computes its whole square against the diagonal
    /// and masks half of it: 64 rows compute 1.25× the causal products at T = 256 (128 rows:
    /// 1.49×), and `bench train --profile` measured attention 17-22 % faster than with 128.
    static let blockRows = 64

    /// Keys visible to query rows [i0, i1): 0..<keyEnd.
    func keyEnd(forRowsEndingAt i1: Int) -> Int {
        causal ? min(keyLength, i1 - 1 + queryOffset + 1) : keyLength
    }
}

extension Kernels {
    /// Soft-caps `count` scores in place: s ← c·tanh(s/c); keeps tanh(s/c) in `tanhOut` when given.
    private static func softcapScores(_ s: UnsafeMutablePointer<Float>, count: Int, cap: Float,
                                      tanhOut: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(count, work: count * 16) { r in
            for i in r {
                let t = _tanhf(s[i] / cap)
                tanhOut?[i] = t
                s[i] = cap * t
            }
        }
    }

    /// Sets masked scores of one block to −∞. The block's rows hold keys keyStart..<keyEnd.
    /// `segments` is [B, T] segment ids (Tq == Tk) or nil.
    private static func maskBlock(_ s: UnsafeMutablePointer<Float>, shape: AttentionShape, b: Int, i0: Int, rows: Int,
                                  keyStart: Int, keyEnd: Int, segments: UnsafePointer<Int32>?) {
        let width = keyEnd - keyStart
        for ii in 0..<rows {
            let i = i0 + ii
            let row = s + ii * width - keyStart  // row[j] is key j
            if shape.causal {
                let limit = i + shape.queryOffset
                if limit + 1 < keyEnd { (row + limit + 1).update(repeating: -.infinity, count: keyEnd - limit - 1) }
            }
            if let window = shape.window {
                let first = min(keyEnd, max(0, i + shape.queryOffset - window + 1))
                if first > keyStart { (row + keyStart).update(repeating: -.infinity, count: first - keyStart) }
            }
            if let segments {
                let seg = segments + b * shape.keyLength
                let mine = seg[i]
                for j in keyStart..<keyEnd where seg[j] != mine { row[j] = -.infinity }
            }
        }
    }

    /// Per batch row, the first key each query row can see through its segment: where segment
    /// ids never decrease along the row (packed and padding-free batches), that is the start of
    /// the query's own run, and a block of queries skips every key before its first row's
    /// segment; otherwise 0 for all. nil without segments.
    static func segmentStarts(_ segments: UnsafePointer<Int32>?, shape: AttentionShape) -> [Int]? {
        guard let segments, shape.queryLength == shape.keyLength else { return nil }
        let t = shape.keyLength
        var starts = [Int](repeating: 0, count: shape.batch * t)
        for b in 0..<shape.batch {
            let seg = segments + b * t
            var monotone = true
            for j in 1..<max(t, 1) where seg[j] < seg[j - 1] { monotone = false; break }
            guard monotone else { continue }
            var start = 0
            for j in 0..<t {
                if j > 0 && seg[j] != seg[j - 1] { start = j }
                starts[b * t + j] = start
            }
        }
        return starts
    }

    static func attentionForward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?,
                                 shape: AttentionShape, segments: UnsafePointer<Int32>?) {
        let hd = shape.headDim, hq = shape.queryHeads, hkv = shape.kvHeads
        if shape.queryLength == 1 && shape.softcap == nil && segments == nil {
            // Decoding: one query row per head, the heads spread over the threads.
            let keyEnd = shape.keyEnd(forRowsEndingAt: 1)
            let first = shape.window.map { min(keyEnd, max(0, shape.queryOffset - $0 + 1)) } ?? 0
            let pairs = shape.batch * hq
            let (uq, uk, uv, uo) = (UncheckedSendable(q), UncheckedSendable(k), UncheckedSendable(v), UncheckedSendable(out))
            let ulse = UncheckedSendable(lse)
            Parallel.forRanges(pairs, work: pairs * (keyEnd - first) * hd * 2) { r in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(keyEnd - first, 1))
                defer { scores.deallocate() }
                for pair in r {
                    let (b, h) = (pair / hq, pair % hq)
                    let kvOffset = (b * shape.keyLength * hkv + h / shape.groupSize) * hd
                    let l = attendRow(q: uq.value + (b * hq + h) * hd, k: uk.value + kvOffset, v: uv.value + kvOffset, ld: hkv * hd,
                                      keys: first..<keyEnd, headDim: hd, scale: shape.scale, scores: scores,
                                      out: uo.value + (b * hq + h) * hd)
                    ulse.value?[b * hq + h] = l
                }
            }
            return
        }
        // One task per (sequence, head, block of query rows), spread over the threads: each
        // block's products are too small to split well (64 × keys × 64), and its rows of `out`
        // and `lse` are its own. Each range of tasks has its own score scratch.
        let bqMax = AttentionShape.blockRows
        let starts = segmentStarts(segments, shape: shape)
        let ldkv = hkv * hd
        let blocks = (shape.queryLength + bqMax - 1) / bqMax
        let tasks = shape.batch * hq * blocks
        Parallel.forRanges(tasks, work: tasks > 1 ? Int.max : 0) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: bqMax * max(shape.keyLength, 1))
            defer { scores.deallocate() }
            for task in range {
                let (b, h, i0) = (task / (hq * blocks), task / blocks % hq, task % blocks * bqMax)
                let kvh = h / shape.groupSize
                let kb = k + (b * shape.keyLength * hkv + kvh) * hd
                let vb = v + (b * shape.keyLength * hkv + kvh) * hd
                let rows = min(bqMax, shape.queryLength - i0)
                let keyEnd = shape.keyEnd(forRowsEndingAt: i0 + rows)
                let keyStart = min(starts?[b * shape.keyLength + i0] ?? 0, keyEnd)
                let width = keyEnd - keyStart
                let qb = q + ((b * shape.queryLength + i0) * hq + h) * hd
                let ob = out + ((b * shape.queryLength + i0) * hq + h) * hd
                BLAS.gemm(transA: false, transB: true, m: rows, n: width, k: hd, alpha: shape.scale,
                          a: qb, lda: hq * hd, b: kb + keyStart * ldkv, ldb: ldkv, c: scores, ldc: width)
                if let cap = shape.softcap { softcapScores(scores, count: rows * width, cap: cap, tanhOut: nil) }
                maskBlock(scores, shape: shape, b: b, i0: i0, rows: rows, keyStart: keyStart, keyEnd: keyEnd, segments: segments)
                let lseRow = lse.map { $0 + (b * hq + h) * shape.queryLength + i0 }
                for ii in 0..<rows {
                    let l = softmaxRow(scores + ii * width, width)
                    lseRow?[ii] = l
                }
                BLAS.gemm(transA: false, transB: false, m: rows, n: hd, k: width,
                          a: scores, lda: width, b: vb + keyStart * ldkv, ldb: ldkv, c: ob, ldc: hq * hd)
            }
        }
    }

    /// One query row against the keys `keys` (rows `ld` floats apart): scores scale·(q·k_j), each
    /// one lk_dot (lk_dots_strided); their softmax; out = Σ p_j·v_j, added in key order
    /// (lk_weighted_rows). Returns the logsumexp.
    static func attendRow(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int, keys: Range<Int>,
                          headDim hd: Int, scale: Float, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) -> Float {
        lk_dots_strided(q, k + keys.lowerBound * ld, keys.count, hd, ld, scale, scores)
        let l = softmaxRow(scores, keys.count)
        lk_weighted_rows(scores, v + keys.lowerBound * ld, keys.count, hd, ld, out)
        return l
    }

    /// dq is overwritten; dk and dv are overwritten too (zeroed, then accumulated over the
    /// query heads that share each kv head).
    static func attentionBackward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                  out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                  dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                  shape: AttentionShape, segments: UnsafePointer<Int32>?) {
        let hd = shape.headDim, hq = shape.queryHeads, hkv = shape.kvHeads, group = shape.groupSize
        let kvCount = shape.batch * shape.keyLength * hkv * hd
        dk.update(repeating: 0, count: kvCount)
        dv.update(repeating: 0, count: kvCount)
        // One task per (sequence, query head), spread over the threads. Its dQ rows are its own;
        // its dK and dV go straight into the kv head's rows when no other query head shares it,
        // else into the task's own [Tk, hd] partial sums, added afterwards per kv head in
        // query-head order (the same floats however the tasks fall on threads).
        let bqMax = AttentionShape.blockRows
        let starts = segmentStarts(segments, shape: shape)
        let ldkv = hkv * hd, ld = hq * hd
        let tasks = shape.batch * hq
        let partials = group > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: 2 * tasks * shape.keyLength * hd) : nil
        defer { partials?.deallocate() }
        partials?.update(repeating: 0, count: 2 * tasks * shape.keyLength * hd)
        Parallel.forRanges(tasks, work: tasks > 1 ? Int.max : 0) { range in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: bqMax * max(shape.keyLength, 1))
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: bqMax * max(shape.keyLength, 1))
            let th = shape.softcap == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: bqMax * max(shape.keyLength, 1))
            defer { p.deallocate(); dp.deallocate(); th?.deallocate() }
            for task in range {
                let (b, h) = (task / hq, task % hq)
                let kvOff = (b * shape.keyLength * hkv + h / group) * hd
                // Where this head's dK/dV rows go: the kv head's own rows, or its partial sums.
                let (dkHead, dvHead, ldd) = partials.map { pt -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) in
                    let own = pt + task * shape.keyLength * hd
                    return (own, own + tasks * shape.keyLength * hd, hd)
                } ?? (dk + kvOff, dv + kvOff, ldkv)
                var i0 = 0
                while i0 < shape.queryLength {
                    let rows = min(bqMax, shape.queryLength - i0)
                    let keyEnd = shape.keyEnd(forRowsEndingAt: i0 + rows)
                    let keyStart = min(starts?[b * shape.keyLength + i0] ?? 0, keyEnd)
                    let width = keyEnd - keyStart
                    let kvBlock = kvOff + keyStart * ldkv
                    let rowOff = ((b * shape.queryLength + i0) * hq + h) * hd
                    BLAS.gemm(transA: false, transB: true, m: rows, n: width, k: hd, alpha: shape.scale,
                              a: q + rowOff, lda: ld, b: k + kvBlock, ldb: ldkv, c: p, ldc: width)
                    if let cap = shape.softcap { softcapScores(p, count: rows * width, cap: cap, tanhOut: th) }
                    maskBlock(p, shape: shape, b: b, i0: i0, rows: rows, keyStart: keyStart, keyEnd: keyEnd, segments: segments)
                    BLAS.gemm(transA: false, transB: true, m: rows, n: width, k: hd,
                              a: dOut + rowOff, lda: ld, b: v + kvBlock, ldb: ldkv, c: dp, ldc: width)
                    let lseRow = lse + (b * hq + h) * shape.queryLength + i0
                    for ii in 0..<rows {
                        let d = vdot(dOut + rowOff + ii * ld, out + rowOff + ii * ld, hd)
                        // P = exp(S − lse) in place; dS = P ⊙ (dP − rowsum(dO ⊙ O)).
                        lk_softmax_backward_row(p + ii * width, dp + ii * width, width, lseRow[ii], d)
                        // Through the cap: d(c·tanh(s/c))/ds = 1 − tanh².
                        if let th {
                            let t = th + ii * width, g = dp + ii * width
                            for j in 0..<width { g[j] *= 1 - t[j] * t[j] }
                        }
                    }
                    // dV += Pᵀ·dO ; dQ = scale·dS·K ; dK += scale·dSᵀ·Q
                    BLAS.gemm(transA: true, transB: false, m: width, n: hd, k: rows,
                              a: p, lda: width, b: dOut + rowOff, ldb: ld, beta: 1, c: dvHead + keyStart * ldd, ldc: ldd)
                    BLAS.gemm(transA: false, transB: false, m: rows, n: hd, k: width, alpha: shape.scale,
                              a: dp, lda: width, b: k + kvBlock, ldb: ldkv, c: dq + rowOff, ldc: ld)
                    BLAS.gemm(transA: true, transB: false, m: width, n: hd, k: rows, alpha: shape.scale,
                              a: dp, lda: width, b: q + rowOff, ldb: ld, beta: 1, c: dkHead + keyStart * ldd, ldc: ldd)
                    i0 += rows
                }
            }
        }
        guard let partials else { return }
        // Each kv head's dK/dV: its query heads' partial sums in head order, key rows over the threads.
        let rowsTotal = shape.batch * shape.keyLength
        Parallel.forRanges(rowsTotal, work: 2 * rowsTotal * ldkv * group) { range in
            for row in range {
                let (b, j) = (row / shape.keyLength, row % shape.keyLength)
                for kvh in 0..<hkv {
                    let dst = row * ldkv + kvh * hd
                    for h in (kvh * group)..<((kvh + 1) * group) {
                        let own = ((b * hq + h) * shape.keyLength + j) * hd
                        Kernels.accumulate(dk + dst, partials + own, hd)
                        Kernels.accumulate(dv + dst, partials + tasks * shape.keyLength * hd + own, hd)
                    }
                }
            }
        }
    }

    /// Plain twin: materialises each query's full score row, Double accumulation.
    static func attentionReference(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                   out: UnsafeMutablePointer<Float>, shape: AttentionShape, segments: UnsafePointer<Int32>?) {
        let hd = shape.headDim, hq = shape.queryHeads, hkv = shape.kvHeads
        for b in 0..<shape.batch {
            for h in 0..<hq {
                let kvh = h / shape.groupSize
                for i in 0..<shape.queryLength {
                    var s = [Double](repeating: -.infinity, count: shape.keyLength)
                    for j in 0..<shape.keyLength {
                        if shape.causal && j > i + shape.queryOffset { continue }
                        if let w = shape.window, j <= i + shape.queryOffset - w { continue }
                        if let segments, segments[b * shape.keyLength + j] != segments[b * shape.keyLength + i] { continue }
                        var d = 0.0
                        for c in 0..<hd {
                            d += Double(q[((b * shape.queryLength + i) * hq + h) * hd + c]) *
                                Double(k[((b * shape.keyLength + j) * hkv + kvh) * hd + c])
                        }
                        s[j] = d * Double(shape.scale)
                        if let cap = shape.softcap { s[j] = Double(cap) * _tanh(s[j] / Double(cap)) }
                    }
                    let m = s.max()!
                    let e = s.map { $0 == -.infinity ? 0 : _exp($0 - m) }
                    let z = e.reduce(0, +)
                    for c in 0..<hd {
                        var acc = 0.0
                        for j in 0..<shape.keyLength where e[j] != 0 {
                            acc += e[j] / z * Double(v[((b * shape.keyLength + j) * hkv + kvh) * hd + c])
                        }
                        out[((b * shape.queryLength + i) * hq + h) * hd + c] = Float(acc)
                    }
                }
            }
        }
    }
}
