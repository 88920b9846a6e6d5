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
                av.withUnsafeFloats { ap in Self.loraDown(xp, rows: n, inF: inF, a: ap.baseAddress!, r: r, into: dp.baseAddress!) }
            }
        }
        y.withUnsafeMutableFloats { yp in down.withUnsafeFloats { dp in bv.withUnsafeFloats { bp in
            Self.loraUp(dp.baseAddress!, rows: n, r: r, b: bp.baseAddress!, outF: outF, scale: scale, into: yp.baseAddress!)
        } } }
        var inputs = [x, w, a, b]
        if let bias { inputs.append(bias) }
        return record(y, inputs: inputs, op: .loraLinear(x: x, weight: w, bias: bias, a: a, b: b, scale: scale,
                                                         dropout: dropout, seed: seed, down: down))
    }

    /// down[rows, r] = x · Aᵀ (few rows: the batch-invariant kernel, as linear's base product).
    static func loraDown(_ x: UnsafePointer<Float>, rows: Int, inF: Int, a: UnsafePointer<Float>, r: Int, into down: UnsafeMutablePointer<Float>) {
        if rows <= BLAS.fewRows {
            BLAS.gemmFewRows(m: rows, n: r, k: inF, a: x, lda: inF, b: a, c: down, ldc: r)
        } else {
            BLAS.gemm(transA: false, transB: true, m: rows, n: r, k: inF, a: x, lda: inF, b: a, ldb: inF, c: down, ldc: r)
        }
    }

    /// y[rows, outF] += scale · down · Bᵀ.
    static func loraUp(_ down: UnsafePointer<Float>, rows: Int, r: Int, b: UnsafePointer<Float>, outF: Int, scale: Float,
                       into y: UnsafeMutablePointer<Float>) {
        if rows <= BLAS.fewRows {
            BLAS.gemmFewRows(m: rows, n: outF, k: r, alpha: scale, a: down, lda: r, b: b, c: y, ldc: outF, accumulate: true)
        } else {
            BLAS.gemm(transA: false, transB: true, m: rows, n: outF, k: r, alpha: scale, a: down, lda: r, b: b, ldb: r,
                      beta: 1, c: y, ldc: outF)
        }
    }

    /// Calls `body` with x, or with a dropped copy of x (mask from `seed`, scaled 1/(1−p)).
    func withDropped<R>(_ x: Tensor, p: Float, seed: UInt64, _ body: (UnsafePointer<Float>) -> R) -> R {
        if p == 0 { return x.withUnsafeFloats { body($0.baseAddress!) } }
        let buf = scratch.floats(x.count)
        x.withUnsafeFloats { Kernels.dropout($0.baseAddress!, buf, x.count, p: p, seed: seed) }
        return body(UnsafePointer(buf))
    }
}

/// One adapter's rows of a batch for `loraLinearRows`: rows `rows` get s · B · A x added.
public struct LoRARows {
    /// Rows of the batch (contiguous: the caller orders its batch by adapter).
    public var rows: Range<Int>
    /// A: [r, in] and B: [out, r] (f32).
    public var a: Tensor, b: Tensor
    /// The scale s.
    public var scale: Float
    /// Creates a group.
    public init(rows: Range<Int>, a: Tensor, b: Tensor, scale: Float) {
        self.rows = rows
        self.a = a
        self.b = b
        self.scale = scale
    }
}

extension Tape {
    /// Inference with several adapters in one batch (S-LoRA / Punica's idea): the base product
    /// x · Wᵀ (+ bias) runs once over every row, then each group's rows get their own adapter's
    /// s · (x A ᵀ) Bᵀ, with the same two products (and the same accumulation into y) that
    /// `loraLinear` makes, so a row computes what it would alone. Rows in no group get the base
    /// only. Not differentiable (serving).
    public func loraLinearRows(_ x: Var, weight w: Var, bias: Var?, groups: [LoRARows]) throws -> Var {
        let xv = value(x), wv = value(w)
        let (outF, inF) = (wv.shape[0], wv.shape[1])
        guard xv.shape.last == inF else { throw TensorError.shapeMismatch(op: "loraLinearRows x/W", lhs: xv.shape, rhs: wv.shape) }
        let n = xv.count / max(inF, 1)
        var y = linearForward(xv, wv, bias: bias.map { value($0) })
        for g in groups where !g.rows.isEmpty {
            let r = g.a.shape[0]
            guard g.rows.upperBound <= n, g.a.shape == [r, inF], g.b.shape == [outF, r] else {
                throw TensorError.shapeMismatch(op: "loraLinearRows A/B", lhs: g.a.shape, rhs: g.b.shape)
            }
            let m = g.rows.count
            var down = Tensor(uninitialized: [m, r])
            down.withUnsafeMutableFloats { dp in xv.withUnsafeFloats { xp in g.a.withUnsafeFloats { ap in
                Self.loraDown(xp.baseAddress! + g.rows.lowerBound * inF, rows: m, inF: inF, a: ap.baseAddress!, r: r, into: dp.baseAddress!)
            } } }
            y.withUnsafeMutableFloats { yp in down.withUnsafeFloats { dp in g.b.withUnsafeFloats { bp in
                Self.loraUp(dp.baseAddress!, rows: m, r: r, b: bp.baseAddress!, outF: outF, scale: g.scale,
                            into: yp.baseAddress! + g.rows.lowerBound * outF)
            } } }
        }
        return input(y)
    }
}
