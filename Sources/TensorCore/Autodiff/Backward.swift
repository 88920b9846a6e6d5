// Every backward rule in one place, so the calculus can be checked in one sitting.
// Each case receives dY (the gradient of the op's output) and adds the gradient of each
// input that needs one. Frozen inputs are skipped: no dW is formed for a frozen weight.

extension Tape {
    func backward(_ op: Op, output: Var, gradOutput dy: Tensor) throws {
        switch op {
        case let .linear(x, w, bias):
            // y = x·Wᵀ + b  ⇒  dx = dy·W,  dW += dyᵀ·x,  db += Σ_rows dy
            let xv = value(x), wv = value(w)
            let (outF, inF) = (wv.shape[0], wv.shape[1])
            let n = xv.count / max(inF, 1)
            dy.withUnsafeFloats { dyp in
                let dyb = dyp.baseAddress!
                withGradientBuffer(x) { dx, acc in inputGradient(dx, accumulate: acc, dy: dyb, weight: wv, rows: n) }
                withGradientBuffer(w) { dw, acc in
                    xv.withUnsafeFloats { xp in
                        BLAS.gemm(transA: true, transB: false, m: outF, n: inF, k: n,
                                  a: dyb, lda: outF, b: xp.baseAddress!, ldb: inF, beta: acc ? 1 : 0, c: dw, ldc: inF)
                    }
                }
                if let bias {
                    withGradientBuffer(bias) { db, acc in
                        if !acc { db.update(repeating: 0, count: outF) }
                        for r in 0..<n { Kernels.accumulate(db, dyb + r * outF, outF) }
                    }
                }
            }

        case let .loraLinear(x, w, bias, a, b, scale, p, seed, down):
            // y = x·Wᵀ + b + s·d·Bᵀ with d = drop(x)·Aᵀ. With g = s·dy·B ([N, r]):
            // dB += s·dyᵀ·d,  dA += gᵀ·drop(x),  dx = dy·W + mask ⊙ (g·A)/(1−p),  db += Σ dy,
            // dW += dyᵀ·x (only if W trains)
            let xv = value(x), wv = value(w), av = value(a), bv = value(b)
            let (outF, inF, r) = (wv.shape[0], wv.shape[1], av.shape[0])
            let n = xv.count / max(inF, 1)
            var g = Tensor(uninitialized: [n, r])
            dy.withUnsafeFloats { dyp in
                let dyb = dyp.baseAddress!
                g.withUnsafeMutableFloats { gp in bv.withUnsafeFloats { bp in
                    BLAS.gemm(transA: false, transB: false, m: n, n: r, k: outF, alpha: scale, a: dyb, lda: outF,
                              b: bp.baseAddress!, ldb: r, c: gp.baseAddress!, ldc: r)
                } }
                // A and B: each micro-batch's gradient whole, then added (bit-identical under data parallelism).
                withOwnGradient(b) { db in
                    down.withUnsafeFloats { dp in
                        BLAS.gemm(transA: true, transB: false, m: outF, n: r, k: n, alpha: scale, a: dyb, lda: outF,
                                  b: dp.baseAddress!, ldb: r, c: db, ldc: r)
                    }
                }
                withGradientBuffer(w) { dw, acc in  // only when W itself trains (not in LoRA use)
                    xv.withUnsafeFloats { xp in
                        BLAS.gemm(transA: true, transB: false, m: outF, n: inF, k: n, a: dyb, lda: outF,
                                  b: xp.baseAddress!, ldb: inF, beta: acc ? 1 : 0, c: dw, ldc: inF)
                    }
                }
                withOwnGradient(a) { da in
                    g.withUnsafeFloats { gp in
                        withDropped(xv, p: p, seed: seed) { xp in
                            BLAS.gemm(transA: true, transB: false, m: r, n: inF, k: n, a: gp.baseAddress!, lda: r,
                                      b: xp, ldb: inF, c: da, ldc: inF)
                        }
                    }
                }
                withGradientBuffer(x) { dx, acc in
                    inputGradient(dx, accumulate: acc, dy: dyb, weight: wv, rows: n)
                    g.withUnsafeFloats { gp in av.withUnsafeFloats { ap in
                        if p == 0 {
                            BLAS.gemm(transA: false, transB: false, m: n, n: inF, k: r, a: gp.baseAddress!, lda: r,
                                      b: ap.baseAddress!, ldb: inF, beta: 1, c: dx, ldc: inF)
                        } else {
                            let tmp = scratch.floats(n * inF)
                            BLAS.gemm(transA: false, transB: false, m: n, n: inF, k: r, a: gp.baseAddress!, lda: r,
                                      b: ap.baseAddress!, ldb: inF, c: tmp, ldc: inF)
                            Kernels.dropout(tmp, tmp, n * inF, p: p, seed: seed)
                            Kernels.accumulate(dx, tmp, n * inF)
                        }
                    } }
                }
                if let bias {
                    withGradientBuffer(bias) { dbias, acc in
                        if !acc { dbias.update(repeating: 0, count: outF) }
                        for row in 0..<n { Kernels.accumulate(dbias, dyb + row * outF, outF) }
                    }
                }
            }

        case let .embedding(table, ids):
            // out[i] = table[ids[i]]  ⇒  dTable[ids[i]] += dy[i]
            let dim = shape(table)[1]
            withGradientBuffer(table) { dt, acc in
                if !acc { dt.update(repeating: 0, count: shape(table).reduce(1, *)) }
                dy.withUnsafeFloats { dyp in
                    ids.withUnsafeBufferPointer {
                        Kernels.embeddingBackward(dOut: dyp.baseAddress!, ids: $0.baseAddress!, dTable: dt, count: ids.count, dim: dim)
                    }
                }
            }

        case let .rmsnorm(x, w, rstd, offset):
            // dw is the same for w and offset + w (d(offset + w)/dw = 1); dx uses offset + w.
            let xv = value(x)
            let dim = xv.shape.last!
            let rows = xv.count / max(dim, 1)
            let wv = w.map { Self.offsetWeight(value($0), offset) }
            var dx: Tensor? = nodes[x.id].needsGrad ? Tensor(uninitialized: xv.shape) : nil
            var dw: Tensor? = (w.map { nodes[$0.id].needsGrad } ?? false) ? Tensor(zeros: [dim]) : nil
            xv.withUnsafeFloats { xp in dy.withUnsafeFloats { dyp in rstd.withUnsafeFloats { rp in
                let wp = wv?.withUnsafeFloats { $0.baseAddress! }  // storage outlives the call: wv is alive
                let dxp = dx == nil ? nil : dx!.withUnsafeMutableFloats { $0.baseAddress! }
                let dwp = dw == nil ? nil : dw!.withUnsafeMutableFloats { $0.baseAddress! }
                Kernels.rmsnormBackward(x: xp.baseAddress!, w: wp, rstd: rp.baseAddress!, dy: dyp.baseAddress!,
                                        dx: dxp, dw: dwp, rows: rows, dim: dim)
            } } }
            if let dx { accumulateGradient(x, dx) }
            if let dw, let w { accumulateGradient(w, dw) }

        case let .rope(x, positions, table, layout, heads, headDim):
            // A (scaled) rotation R: dx = Rᵀ·dy, the rotation by the negative angle with the same
            // scale; unrotated dimensions (partial rotary) pass dy through.
            let tokens = dy.count / (heads * headDim)
            var dx = Tensor(uninitialized: dy.shape)
            dx.withUnsafeMutableFloats { dxp in dy.withUnsafeFloats { dyp in positions.withUnsafeBufferPointer { pp in
                Kernels.rope(x: dyp.baseAddress!, y: dxp.baseAddress!, positions: pp.baseAddress!, tokens: tokens,
                             heads: heads, headDim: headDim, table: table, layout: layout, inverse: true)
            } } }
            accumulateGradient(x, dx)

        case let .attention(q, k, v, lse, shape, segments):
            let qv = value(q), kv = value(k), vv = value(v), ov = value(output)
            var dq = Tensor(uninitialized: qv.shape), dk = Tensor(uninitialized: kv.shape), dv = Tensor(uninitialized: vv.shape)
            dq.withUnsafeMutableFloats { dqp in dk.withUnsafeMutableFloats { dkp in dv.withUnsafeMutableFloats { dvp in
                qv.withUnsafeFloats { qp in kv.withUnsafeFloats { kp in vv.withUnsafeFloats { vp in
                    ov.withUnsafeFloats { op in lse.withUnsafeFloats { lp in dy.withUnsafeFloats { dyp in
                        let run = { (seg: UnsafePointer<Int32>?) in
                            Kernels.attentionBackward(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!,
                                                      out: op.baseAddress!, lse: lp.baseAddress!, dOut: dyp.baseAddress!,
                                                      dq: dqp.baseAddress!, dk: dkp.baseAddress!, dv: dvp.baseAddress!,
                                                      shape: shape, segments: seg)
                        }
                        if let segments { segments.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                    } } }
                } } }
            } } }
            accumulateGradient(q, dq)
            accumulateGradient(k, dk)
            accumulateGradient(v, dv)

        case let .swiglu(gate, up):
            gatedBackward(gate, up, dy) { Kernels.swigluBackward(gate: $0, up: $1, dy: $2, dGate: $3, dUp: $4, $5) }

        case let .geglu(gate, up):
            // y = gelu(g)⊙u  ⇒  dg = dy⊙u⊙gelu'(g),  du = dy⊙gelu(g)
            gatedBackward(gate, up, dy) { Kernels.gegluBackward(gate: $0, up: $1, dy: $2, dGate: $3, dUp: $4, $5) }

        case let .softcap(x, cap):
            // y = c·tanh(x/c)  ⇒  dx = dy·(1 − (y/c)²)
            let yv = value(output)
            var dx = Tensor(uninitialized: yv.shape)
            dx.withUnsafeMutableFloats { dxp in yv.withUnsafeFloats { yp in dy.withUnsafeFloats { dyp in
                Kernels.softcapBackward(yp.baseAddress!, dyp.baseAddress!, dxp.baseAddress!, yv.count, cap: cap)
            } } }
            accumulateGradient(x, dx)

        case let .silu(x):
            let xv = value(x)
            var dx = Tensor(uninitialized: xv.shape)
            dx.withUnsafeMutableFloats { dxp in xv.withUnsafeFloats { xp in dy.withUnsafeFloats { dyp in
                Kernels.siluBackward(xp.baseAddress!, dyp.baseAddress!, dxp.baseAddress!, xv.count)
            } } }
            accumulateGradient(x, dx)

        case let .add(a, b):
            accumulateGradient(a, dy)
            accumulateGradient(b, dy)

        case let .mul(a, b):
            // d(a⊙b) = da⊙b + a⊙db
            for (target, other) in [(a, b), (b, a)] where nodes[target.id].needsGrad {
                let ov = value(other)
                var d = Tensor(uninitialized: ov.shape)
                d.withUnsafeMutableFloats { dp in ov.withUnsafeFloats { op in dy.withUnsafeFloats { dyp in
                    Kernels.mul(dyp.baseAddress!, op.baseAddress!, dp.baseAddress!, ov.count)
                } } }
                accumulateGradient(target, d)
            }

        case let .scale(x, s):
            var dx = Tensor(uninitialized: dy.shape)
            dx.withUnsafeMutableFloats { dxp in dy.withUnsafeFloats { Kernels.scale($0.baseAddress!, s, dxp.baseAddress!, dy.count) } }
            accumulateGradient(x, dx)

        case let .dropout(x, p, seed):
            // Same mask as forward: a pure function of (seed, index).
            var dx = Tensor(uninitialized: dy.shape)
            dx.withUnsafeMutableFloats { dxp in dy.withUnsafeFloats { Kernels.dropout($0.baseAddress!, dxp.baseAddress!, dy.count, p: p, seed: seed) } }
            accumulateGradient(x, dx)

        case let .crossEntropy(logits, gradient):
            // The forward pass stored softmax − onehot (÷ normaliser); scale by the upstream scalar.
            var g = gradient
            let s = dy.scalar
            if s != 1 {
                g.withUnsafeMutableFloats { Kernels.scale($0.baseAddress!, s, $0.baseAddress!, $0.count) }
            }
            accumulateGradient(logits, g)

        case let .linearCrossEntropy(h, w, rows, dH, dW):
            // Gradients were formed chunk by chunk in forward; scale by the upstream scalar.
            let s = dy.scalar
            if nodes[h.id].needsGrad {
                let dim = shape(h).last!
                withGradientBuffer(h) { dh, acc in
                    if !acc { dh.update(repeating: 0, count: shape(h).reduce(1, *)) }
                    dH.withUnsafeFloats { src in
                        for (i, r) in rows.enumerated() {
                            Kernels.accumulate(dh + Int(r) * dim, src.baseAddress! + i * dim, dim, alpha: s)
                        }
                    }
                }
            }
            if var dW {
                if s != 1 { dW.withUnsafeMutableFloats { Kernels.scale($0.baseAddress!, s, $0.baseAddress!, $0.count) } }
                // The first gradient of the head takes dW itself (a whole [vocab, dim] tensor this
                // op made and drops now): no copy of it, nor the page faults of a fresh one.
                if let p = nodes[w.id].parameter, p.grad == nil { p.grad = dW } else { accumulateGradient(w, dW) }
            }

        case let .sum(x):
            accumulateGradient(x, Tensor(repeating: dy.scalar, shape: shape(x)))

        case let .reshape(x):
            accumulateGradient(x, try dy.reshaped(shape(x)))

        case let .columns(x, start, width):
            // dx[..., start ..< start + width] += dy; the other columns get nothing from this op.
            let c = shape(x).last!
            let rows = dy.count / width
            withGradientBuffer(x) { dx, acc in
                if !acc { dx.update(repeating: 0, count: rows * c) }
                dy.withUnsafeFloats { dyp in
                    for r in 0..<rows { Kernels.accumulate(dx + r * c + start, dyp.baseAddress! + r * width, width) }
                }
            }

        case let .checkpoint(inputs, body):
            // Recompute the block on a recording tape, then backpropagate through it.
            let sub = Tape(recordsGradients: true, scratch: scratch)
            let leaves = inputs.map { sub.input(value($0), requiresGrad: nodes[$0.id].needsGrad) }
            let out = try body(sub, leaves)
            try sub.backward(out, seed: dy)
            for (input, leaf) in zip(inputs, leaves) {
                if let g = sub.gradient(leaf) { accumulateGradient(input, g) }
            }
        }
    }

    /// dx (+)= dy·W for a linear layer, W widened a slab of rows at a time when it is big:
    /// each slab of output features adds its share of the sum over outputs.
    /// The gradients of a gated activation y = act(g)⊙u (SwiGLU, GeGLU) through its backward
    /// `kernel(gate, up, dy, dGate?, dUp?, count)`, computed only for the inputs that need one.
    func gatedBackward(_ gate: Var, _ up: Var, _ dy: Tensor,
                       _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                  UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) {
        let g = value(gate), u = value(up)
        let needG = nodes[gate.id].needsGrad, needU = nodes[up.id].needsGrad
        var dg = Tensor(uninitialized: needG ? g.shape : [0])
        var du = Tensor(uninitialized: needU ? u.shape : [0])
        dg.withUnsafeMutableFloats { dgp in du.withUnsafeMutableFloats { dup in
            g.withUnsafeFloats { gp in u.withUnsafeFloats { upp in dy.withUnsafeFloats { dyp in
                kernel(gp.baseAddress!, upp.baseAddress!, dyp.baseAddress!, needG ? dgp.baseAddress! : nil,
                       needU ? dup.baseAddress! : nil, g.count)
            } } }
        } }
        if needG { accumulateGradient(gate, dg) }
        if needU { accumulateGradient(up, du) }
    }

    func inputGradient(_ dx: UnsafeMutablePointer<Float>, accumulate: Bool, dy: UnsafePointer<Float>, weight wv: Tensor, rows n: Int) {
        let (outF, inF) = (wv.shape[0], wv.shape[1])
        withRowSlabs(wv) { each in
            each { slab, wp in
                BLAS.gemm(transA: false, transB: false, m: n, n: inF, k: slab.count, a: dy + slab.lowerBound, lda: outF,
                          b: wp, ldb: inF, beta: accumulate || slab.lowerBound > 0 ? 1 : 0, c: dx, ldc: inF)
            }
        }
    }
}
