// A linear layer with a LoRA pair as one tape operation: y = x·Wᵀ (+ b) + s·(drop(x)·Aᵀ)·Bᵀ.
// Fusing keeps one output instead of three (base output, low-rank product, sum) and no
// dropped copy of x: the dropout mask is a function of the seed, recomputed in backward.
// Only down = drop(x)·Aᵀ ([N, r], small) is saved. x: [..., in], W: [out, in], A: [r, in], B: [out, r].

extension Tape {
    /// The fused LoRA linear. `dropout` applies to the adapter's input only (PEFT's rule).
    public func loraLinear(_ x: Var, weight w: Var, bias: Var?, a: Var, b: Var, scale: Float,
                           dropout: Float = 0, seed: UInt64 = 0) throws -> Var {
        let xv = value(x), wv = value(w), av = value(a), bv = value(b)
        guard wv.rank == 2, av.rank == 2, bv.rank == 2, xv.shape.last == wv.shape[1], av.shape[1] == wv.shape[1],
              bv.shape[0] == wv.shape[0], bv.shape[1] == av.shape[0] else {
            throw TensorError.shapeMismatch(op: "loraLinear A/B", lhs: av.shape, rhs: bv.shape)
        }
        guard dropout >= 0, dropout < 1 else { throw TensorError.invalidShape(op: "loraLinear dropout", shape: [], expected: "0 ≤ p < 1") }
        let (outF, inF, r) = (wv.shape[0], wv.shape[1], av.shape[0])
        let n = xv.count / max(inF, 1)
        if let bias, value(bias).shape != [outF] {
            throw TensorError.shapeMismatch(op: "loraLinear bias", lhs: value(bias).shape, rhs: [outF])
        }
        var y = linearForward(xv, wv, bias: bias.map { value($0) })
        var down = Tensor(uninitialized: [n, r])
        down.withUnsafeMutableFloats { dp in
            withDropped(xv, p: dropout, seed: seed) { xp in
                av.withUnsafeFloats { ap in
                    BLAS.gemm(transA: false, transB: true, m: n, n: r, k: inF, a: xp, lda: inF, b: ap.baseAddress!, ldb: inF,
                              c: dp.baseAddress!, ldc: r)
                }
            }
        }
        y.withUnsafeMutableFloats { yp in down.withUnsafeFloats { dp in bv.withUnsafeFloats { bp in
            BLAS.gemm(transA: false, transB: true, m: n, n: outF, k: r, alpha: scale, a: dp.baseAddress!, lda: r,
                      b: bp.baseAddress!, ldb: r, beta: 1, c: yp.baseAddress!, ldc: outF)
        } } }
        var inputs = [x, w, a, b]
        if let bias { inputs.append(bias) }
        return record(y, inputs: inputs, op: .loraLinear(x: x, weight: w, bias: bias, a: a, b: b, scale: scale,
                                                         dropout: dropout, seed: seed, down: down))
    }

    /// Calls `body` with x, or with a dropped copy of x (mask from `seed`, scaled 1/(1−p)).
    func withDropped<R>(_ x: Tensor, p: Float, seed: UInt64, _ body: (UnsafePointer<Float>) -> R) -> R {
        if p == 0 { return x.withUnsafeFloats { body($0.baseAddress!) } }
        let buf = scratch.floats(x.count)
        x.withUnsafeFloats { Kernels.dropout($0.baseAddress!, buf, x.count, p: p, seed: seed) }
        return body(UnsafePointer(buf))
    }
}
