// Forward implementations of the differentiable operations. Shapes use B batch, T time,
// D model width, H heads, hd head size, V vocabulary, N = B·T tokens.
// Shape errors throw TensorError naming both shapes.
internal import CKernels

extension Tape {
    // MARK: Linear and embedding

    /// y = x · Wᵀ (+ bias). x: [..., in], W: [out, in] (any storage dtype; narrow weights
    /// are widened into a reused scratch buffer), bias: [out]. y: [..., out].
    public func linear(_ x: Var, weight w: Var, bias: Var? = nil) throws -> Var {
        let xv = value(x), wv = value(w)
        guard wv.rank == 2, xv.rank >= 1, xv.shape.last == wv.shape[1] else {
            throw TensorError.shapeMismatch(op: "linear", lhs: xv.shape, rhs: wv.shape)
        }
        let outF = wv.shape[0]
        if let bias, value(bias).shape != [outF] {
            throw TensorError.shapeMismatch(op: "linear bias", lhs: value(bias).shape, rhs: [outF])
        }
        let y = linearForward(xv, wv, bias: bias.map { value($0) })
        var inputs = [x, w]
        if let bias { inputs.append(bias) }
        return record(y, inputs: inputs, op: .linear(x: x, weight: w, bias: bias))
    }

    /// x·Wᵀ (+ bias) as a new tensor. x: [..., in], W: [out, in], bias: [out].
    func linearForward(_ xv: Tensor, _ wv: Tensor, bias: Tensor?) -> Tensor {
        let (outF, inF) = (wv.shape[0], wv.shape[1])
        let n = xv.count / max(inF, 1)
        var y = Tensor(uninitialized: Array(xv.shape.dropLast()) + [outF])
        y.withUnsafeMutableFloats { yp in
            xv.withUnsafeFloats { xp in
                if n <= BLAS.fewRows, let packed = wv.packed, packed.hasFewRowProduct {
                    // Decoding on GGML blocks: each block is widened in registers, never to memory.
                    let (ux, uy) = (UncheckedSendable(xp.baseAddress!), UncheckedSendable(yp.baseAddress!))
                    Parallel.forRanges(outF, work: n * outF * inF / 4) { rows in
                        packed.productFewRows(ux.value, m: n, ldx: inF, outputs: rows, into: uy.value, ldy: outF)
                    }
                    return
                }
                if n <= BLAS.fewRows, wv.packed == nil, wv.dtype == .bf16 || wv.dtype == .f16 {
                    // Half-precision rows (a bf16 model's head) widen in registers, never to memory.
                    let bf16: Int32 = wv.dtype == .bf16 ? 1 : 0
                    wv.withUnsafeBytes { raw in
                        let (ux, uy, uw) = (UncheckedSendable(xp.baseAddress!), UncheckedSendable(yp.baseAddress!),
                                            UncheckedSendable(raw.baseAddress!))
                        Parallel.forRanges(outF, work: n * outF * inF / 4) { rows in
                            lk_rows_dot_half(ux.value, n, inF, uw.value + 2 * rows.lowerBound * inF, bf16, rows.count, inF,
                                             uy.value + rows.lowerBound, outF)
                        }
                    }
                    return
                }
                withRowSlabs(wv) { each in
                    each { rows, wp in
                        if n <= BLAS.fewRows {
                            BLAS.gemmFewRows(m: n, n: rows.count, k: inF, a: xp.baseAddress!, lda: inF, b: wp,
                                             c: yp.baseAddress! + rows.lowerBound, ldc: outF)
                        } else {
                            BLAS.gemm(transA: false, transB: true, m: n, n: rows.count, k: inF, a: xp.baseAddress!, lda: inF,
                                      b: wp, ldb: inF, c: yp.baseAddress! + rows.lowerBound, ldc: outF)
                        }
                    }
                }
            }
            if let bias {
                bias.widened().withUnsafeFloats { bp in
                    for r in 0..<n { Kernels.accumulate(yp.baseAddress! + r * outF, bp.baseAddress!, outF) }
                }
            }
        }
        return y
    }

    /// Calls `body` with Float32 elements of `t`, widening into the scratch when narrow.
    func withWidened<R>(_ t: Tensor, _ body: (UnsafePointer<Float>) -> R) -> R {
        if t.dtype == .f32 { return t.withUnsafeFloats { body($0.baseAddress!) } }
        let buf = scratch.floats(t.count)
        if t.rank == 2 {
            t.unpackRows(0..<t.shape[0], into: buf)
        } else {
            t.withUnsafeBytes { Kernels.widen($0, dtype: t.dtype, into: buf, count: t.count) }
        }
        return body(UnsafePointer(buf))
    }

    /// Calls `body` with a visitor over the rows of the 2-D weight `t` as Float32: the visitor
    /// hands out (rows, pointer to those rows) — all rows at once when `t` is f32 or small
    /// enough to widen whole (widened once, however often it is visited), else consecutive
    /// slabs of `widenSlabElements`, widened anew on every visit into the same scratch.
    func withRowSlabs(_ t: Tensor, _ body: (_ each: ((Range<Int>, UnsafePointer<Float>) -> Void) -> Void) -> Void) {
        let (rows, cols) = (t.shape[0], t.shape[1])
        if t.dtype == .f32 || t.count <= scratch.slabFloats {
            withWidened(t) { wp in body { visit in visit(0..<rows, wp) } }
            return
        }
        let slabRows = max(1, scratch.slabFloats / max(cols, 1))
        let buf = scratch.floats(slabRows * cols)
        body { visit in
            var start = 0
            while start < rows {
                let end = min(rows, start + slabRows)
                t.unpackRows(start..<end, into: buf)
                visit(start..<end, UnsafePointer(buf))
                start = end
            }
        }
    }

    /// Rows of `table` [V, D] picked by `ids`: [ids.count, D]. Throws on an id outside 0..<V.
    /// The row of `paddingIndex` gets no gradient, as with torch.nn.Embedding's padding_idx.
    public func embedding(_ table: Var, ids: [Int32], paddingIndex: Int32? = nil) throws -> Var {
        let tv = value(table)
        guard tv.rank == 2 else { throw TensorError.invalidShape(op: "embedding", shape: tv.shape, expected: "[V, D]") }
        let (vocab, dim) = (tv.shape[0], tv.shape[1])
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw TensorError.indexOutOfRange(op: "embedding", index: Int(bad), bound: vocab)
        }
        var out = Tensor(uninitialized: [ids.count, dim])
        out.withUnsafeMutableFloats { op in
            if tv.dtype == .f32 {
                tv.withUnsafeFloats { tp in
                    ids.withUnsafeBufferPointer { Kernels.embedding(table: tp.baseAddress!, ids: $0.baseAddress!, out: op.baseAddress!, count: ids.count, dim: dim) }
                }
            } else {
                // A narrow table: widen only the rows looked up, not all V × D values.
                for (i, id) in ids.enumerated() { tv.unpackRows(Int(id)..<(Int(id) + 1), into: op.baseAddress! + i * dim) }
            }
        }
        let scattered = paddingIndex.map { pad in ids.map { $0 == pad ? -1 : $0 } } ?? ids
        return record(out, inputs: [table], op: .embedding(table: table, ids: scattered))
    }

    // MARK: Normalisation and position

    /// RMSNorm over the last axis: x · rstd · (offset + w). x: [..., D], w: [D] or nil.
    /// `weightOffset` is 1 for Gemma, whose norms store w around 0 and scale by (1 + w) in f32.
    public func rmsnorm(_ x: Var, weight w: Var?, eps: Float, weightOffset: Float = 0) throws -> Var {
        let xv = value(x)
        guard let dim = xv.shape.last else { throw TensorError.invalidShape(op: "rmsnorm", shape: xv.shape, expected: "[..., D]") }
        if let w, value(w).shape != [dim] { throw TensorError.shapeMismatch(op: "rmsnorm", lhs: xv.shape, rhs: value(w).shape) }
        let rows = xv.count / max(dim, 1)
        var y = Tensor(uninitialized: xv.shape)
        var rstd = Tensor(uninitialized: [rows])
        let wv = w.map { Self.offsetWeight(value($0), weightOffset) }
        y.withUnsafeMutableFloats { yp in
            rstd.withUnsafeMutableFloats { rp in
                xv.withUnsafeFloats { xp in
                    if let wv {
                        wv.withUnsafeFloats { Kernels.rmsnorm(x: xp.baseAddress!, w: $0.baseAddress!, eps: eps, y: yp.baseAddress!, rstd: rp.baseAddress!, rows: rows, dim: dim) }
                    } else {
                        Kernels.rmsnorm(x: xp.baseAddress!, w: nil, eps: eps, y: yp.baseAddress!, rstd: rp.baseAddress!, rows: rows, dim: dim)
                    }
                }
            }
        }
        return record(y, inputs: w.map { [x, $0] } ?? [x], op: .rmsnorm(x: x, weight: w, rstd: rstd, weightOffset: weightOffset))
    }

    /// The norm weight as f32 with `offset` added to every element (offset + w).
    static func offsetWeight(_ w: Tensor, _ offset: Float) -> Tensor {
        var out = w.widened()
        if offset != 0 { out.withUnsafeMutableFloats { p in for i in p.indices { p[i] += offset } } }
        return out
    }

    /// Rotary embedding of x: [..., H, hd] (N tokens of H heads); `positions` has one id per token.
    public func rope(_ x: Var, positions: [Int32], table: RopeTable, layout: RopeLayout = .halfSplit) throws -> Var {
        let xv = value(x)
        guard xv.rank >= 2 else { throw TensorError.invalidShape(op: "rope", shape: xv.shape, expected: "[..., H, hd]") }
        let hd = xv.shape[xv.rank - 1], heads = xv.shape[xv.rank - 2]
        let tokens = xv.count / max(hd * heads, 1)
        guard hd % 2 == 0, table.rotaryDimensions <= hd else {
            throw TensorError.invalidShape(op: "rope", shape: xv.shape, expected: "head size ≥ \(table.rotaryDimensions)")
        }
        guard positions.count == tokens else {
            throw TensorError.shapeMismatch(op: "rope positions", lhs: xv.shape, rhs: [positions.count])
        }
        if let bad = positions.first(where: { $0 < 0 || Int($0) >= table.maxPositions }) {
            throw TensorError.indexOutOfRange(op: "rope position", index: Int(bad), bound: table.maxPositions)
        }
        var y = Tensor(uninitialized: xv.shape)
        y.withUnsafeMutableFloats { yp in
            xv.withUnsafeFloats { xp in
                positions.withUnsafeBufferPointer { pp in
                    Kernels.rope(x: xp.baseAddress!, y: yp.baseAddress!, positions: pp.baseAddress!, tokens: tokens,
                                 heads: heads, headDim: hd, table: table, layout: layout, inverse: false)
                }
            }
        }
        return record(y, inputs: [x], op: .rope(x: x, positions: positions, table: table, layout: layout, heads: heads, headDim: hd))
    }

    // MARK: Attention

    /// Causal grouped-query attention. q: [B, Tq, Hq, hd], k and v: [B, Tk, Hkv, hd] with Hq a
    /// multiple of Hkv and Tk ≥ Tq (Tk > Tq when earlier keys come from a KV cache). `segments` ([B·T] ids) keeps packed examples from attending to each other.
    /// Scores are scaled by `scale` (default 1/√hd); with `window`, each query sees only the
    /// last `window` positions up to itself (sliding-window attention, Mistral/Gemma); with
    /// `softcap` c the scaled scores become c·tanh(s/c) (Gemma 2).
    public func attention(q: Var, k: Var, v: Var, causal: Bool = true, segments: [Int32]? = nil,
                          scale: Float? = nil, window: Int? = nil, softcap: Float? = nil) throws -> Var {
        let qv = value(q), kv = value(k), vv = value(v)
        guard qv.rank == 4, kv.rank == 4, kv.shape == vv.shape, qv.shape[0] == kv.shape[0],
              qv.shape[3] == kv.shape[3], kv.shape[2] > 0, qv.shape[2] % kv.shape[2] == 0 else {
            throw TensorError.shapeMismatch(op: "attention q/k", lhs: qv.shape, rhs: kv.shape)
        }
        // With a KV cache there are more keys than queries: the queries are the last
        // positions, so query i sits at absolute position i + (Tk − Tq).
        guard kv.shape[1] >= qv.shape[1] else { throw TensorError.shapeMismatch(op: "attention q/k", lhs: qv.shape, rhs: kv.shape) }
        if let segments, segments.count != qv.shape[0] * qv.shape[1] || kv.shape[1] != qv.shape[1] {
            throw TensorError.shapeMismatch(op: "attention segments", lhs: qv.shape, rhs: [segments.count])
        }
        let shape = AttentionShape(batch: qv.shape[0], queryLength: qv.shape[1], keyLength: kv.shape[1],
                                   queryHeads: qv.shape[2], kvHeads: kv.shape[2], headDim: qv.shape[3],
                                   queryOffset: kv.shape[1] - qv.shape[1],
                                   causal: causal, scale: scale ?? 1 / Float(qv.shape[3]).squareRoot(),
                                   window: window, softcap: softcap)
        if let softcap, !(softcap > 0) {
            throw TensorError.invalidShape(op: "attention softcap \(softcap)", shape: [], expected: "a positive cap")
        }
        if let window, window < 1 {
            throw TensorError.invalidShape(op: "attention window", shape: [window], expected: "a window of at least 1 position")
        }
        var out = Tensor(uninitialized: qv.shape)
        let keep = recordsGradients && [q, k, v].contains { nodes[$0.id].needsGrad }
        var lse = Tensor(uninitialized: keep ? [shape.batch, shape.queryHeads, shape.queryLength] : [0])
        out.withUnsafeMutableFloats { op in
            lse.withUnsafeMutableFloats { lp in
                qv.withUnsafeFloats { qp in kv.withUnsafeFloats { kp in vv.withUnsafeFloats { vp in
                    let lsePtr = keep ? lp.baseAddress : nil
                    if let segments {
                        segments.withUnsafeBufferPointer {
                            Kernels.attentionForward(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!,
                                                     lse: lsePtr, shape: shape, segments: $0.baseAddress!)
                        }
                    } else {
                        Kernels.attentionForward(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!,
                                                 lse: lsePtr, shape: shape, segments: nil)
                    }
                } } }
            }
        }
        return record(out, inputs: [q, k, v], op: .attention(q: q, k: k, v: v, lse: lse, shape: shape, segments: segments))
    }

    // MARK: Elementwise

    /// silu(gate) ⊙ up (the SwiGLU MLP's gate).
    public func swiglu(gate: Var, up: Var) throws -> Var {
        try gated("swiglu", gate, up, op: .swiglu(gate: gate, up: up)) { Kernels.swiglu(gate: $0, up: $1, out: $2, $3) }
    }

    /// act(gate) ⊙ up through `kernel(gate, up, out, count)`, recorded as `op` (SwiGLU, GeGLU).
    func gated(_ name: String, _ gate: Var, _ up: Var, op: Op,
               _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) throws -> Var {
        let g = value(gate), u = value(up)
        try Tensor.checkSameShape(name, g, u)
        var y = Tensor(uninitialized: g.shape)
        y.withUnsafeMutableFloats { yp in g.withUnsafeFloats { gp in u.withUnsafeFloats { upp in
            kernel(gp.baseAddress!, upp.baseAddress!, yp.baseAddress!, g.count)
        } } }
        return record(y, inputs: [gate, up], op: op)
    }

    /// x · sigmoid(x).
    public func silu(_ x: Var) -> Var {
        let xv = value(x)
        var y = Tensor(uninitialized: xv.shape)
        y.withUnsafeMutableFloats { yp in xv.withUnsafeFloats { Kernels.silu($0.baseAddress!, yp.baseAddress!, xv.count) } }
        return record(y, inputs: [x], op: .silu(x))
    }

    /// a + b (same shape).
    public func add(_ a: Var, _ b: Var) throws -> Var {
        let av = value(a), bv = value(b)
        try Tensor.checkSameShape("add", av, bv)
        var y = Tensor(uninitialized: av.shape)
        y.withUnsafeMutableFloats { yp in av.withUnsafeFloats { ap in bv.withUnsafeFloats { bp in
            Kernels.add(ap.baseAddress!, bp.baseAddress!, yp.baseAddress!, av.count)
        } } }
        return record(y, inputs: [a, b], op: .add(a, b))
    }

    /// a ⊙ b (same shape).
    public func mul(_ a: Var, _ b: Var) throws -> Var {
        let av = value(a), bv = value(b)
        try Tensor.checkSameShape("mul", av, bv)
        var y = Tensor(uninitialized: av.shape)
        y.withUnsafeMutableFloats { yp in av.withUnsafeFloats { ap in bv.withUnsafeFloats { bp in
            Kernels.mul(ap.baseAddress!, bp.baseAddress!, yp.baseAddress!, av.count)
        } } }
        return record(y, inputs: [a, b], op: .mul(a, b))
    }

    /// s · x.
    public func scale(_ x: Var, by s: Float) -> Var {
        let xv = value(x)
        var y = Tensor(uninitialized: xv.shape)
        y.withUnsafeMutableFloats { yp in xv.withUnsafeFloats { Kernels.scale($0.baseAddress!, s, yp.baseAddress!, xv.count) } }
        return record(y, inputs: [x], op: .scale(x, s))
    }

    /// Inverted dropout with probability `p`; the mask is a pure function of `seed`.
    public func dropout(_ x: Var, p: Float, seed: UInt64) throws -> Var {
        guard p >= 0, p < 1 else { throw TensorError.invalidShape(op: "dropout p=\(p)", shape: [], expected: "0 ≤ p < 1") }
        if p == 0 { return x }
        let xv = value(x)
        var y = Tensor(uninitialized: xv.shape)
        y.withUnsafeMutableFloats { yp in xv.withUnsafeFloats { Kernels.dropout($0.baseAddress!, yp.baseAddress!, xv.count, p: p, seed: seed) } }
        return record(y, inputs: [x], op: .dropout(x, p: p, seed: seed))
    }

    /// The same values with another shape (a free view).
    public func reshape(_ x: Var, _ shape: [Int]) throws -> Var {
        let y = try value(x).reshaped(shape)
        return record(y, inputs: [x], op: .reshape(x))
    }

    /// Columns `range` of the last axis of x ([..., C] → [..., range.count]), copied: how a fused
    /// projection (Phi-3's qkv_proj, gate_up_proj) is split into its parts.
    public func columns(_ x: Var, _ range: Range<Int>) throws -> Var {
        let xv = value(x)
        guard let c = xv.shape.last, range.lowerBound >= 0, range.upperBound <= c, !range.isEmpty else {
            throw TensorError.invalidShape(op: "columns", shape: xv.shape, expected: "a last axis covering \(range)")
        }
        let rows = xv.count / c, w = range.count
        var y = Tensor(uninitialized: Array(xv.shape.dropLast()) + [w])
        y.withUnsafeMutableFloats { yp in xv.withUnsafeFloats { xp in
            for r in 0..<rows {
                (yp.baseAddress! + r * w).update(from: xp.baseAddress! + r * c + range.lowerBound, count: w)
            }
        } }
        return record(y, inputs: [x], op: .columns(x, start: range.lowerBound, width: w))
    }

    // MARK: Reductions and loss

    /// Sum of all elements (a scalar).
    public func sum(_ x: Var) -> Var {
        let s = value(x).withUnsafeFloats { p in
            var acc = 0.0
            var i = 0
            while i < p.count { let n = min(4096, p.count - i); acc += Double(vsum(p.baseAddress! + i, n)); i += n }
            return Float(acc)
        }
        return record(Tensor(scalar: s), inputs: [x], op: .sum(x))
    }

    /// Mean of all elements (a scalar).
    public func mean(_ x: Var) -> Var {
        scale(sum(x), by: 1 / Float(max(value(x).count, 1)))
    }

    /// Cross-entropy of logits [..., V] against `targets` (one per row); rows whose target is
    /// `ignoreIndex` count for nothing. Returns Σ loss / normalizer, where the normalizer
    /// defaults to the number of counted rows. Fused: the logits' gradient is formed in the
    /// same pass (one extra logits-sized buffer, and none without gradients).
    public func crossEntropy(_ logits: Var, targets: [Int32], ignoreIndex: Int32 = -100, normalizer: Float? = nil) throws -> Var {
        let lv = value(logits)
        guard let vocab = lv.shape.last, vocab > 0 else {
            throw TensorError.invalidShape(op: "crossEntropy", shape: lv.shape, expected: "[..., V]")
        }
        let rows = lv.count / vocab
        guard targets.count == rows else { throw TensorError.shapeMismatch(op: "crossEntropy targets", lhs: lv.shape, rhs: [targets.count]) }
        if let bad = targets.first(where: { $0 != ignoreIndex && ($0 < 0 || Int($0) >= vocab) }) {
            throw TensorError.indexOutOfRange(op: "crossEntropy target", index: Int(bad), bound: vocab)
        }
        let counted = targets.lazy.filter { $0 != ignoreIndex }.count
        let norm = normalizer ?? Float(max(counted, 1))
        let wantGrad = recordsGradients && nodes[logits.id].needsGrad
        var grad = Tensor(uninitialized: wantGrad ? lv.shape : [0])
        var losses = [Float](repeating: 0, count: rows)
        lv.withUnsafeFloats { lp in
            targets.withUnsafeBufferPointer { tp in
                losses.withUnsafeMutableBufferPointer { lossp in
                    grad.withUnsafeMutableFloats { gp in
                        Kernels.crossEntropy(logits: lp.baseAddress!, targets: tp.baseAddress!, ignoreIndex: ignoreIndex,
                                             rows: rows, vocab: vocab, gradScale: 1 / norm,
                                             loss: lossp.baseAddress!, grad: wantGrad ? gp.baseAddress! : nil)
                    }
                }
            }
        }
        let total = losses.reduce(0.0) { $0 + Double($1) }
        return record(Tensor(scalar: Float(total / Double(norm))), inputs: [logits], op: .crossEntropy(logits: logits, gradient: grad))
    }

    // MARK: Gradient checkpointing

    /// Runs `body` on `inputs` keeping only the inputs: the intermediate values are dropped
    /// after the forward pass and recomputed during backward. `body` must be deterministic
    /// (seeded dropout is). Parameters it uses get their gradients as usual.
    public func checkpoint(_ inputs: [Var], _ body: @escaping CheckpointBody) throws -> Var {
        let sub = Tape(recordsGradients: false, scratch: scratch)
        let leaves = inputs.map { sub.input(value($0)) }
        let out = try body(sub, leaves)
        let paramsNeed = sub.nodes[out.id].needsGrad
        let needs = paramsNeed || inputs.contains { nodes[$0.id].needsGrad }
        return push(Node(value: sub.value(out), needsGrad: needs,
                         op: needs && recordsGradients ? .checkpoint(inputs: inputs, body: body) : nil, parameter: nil))
    }
}
