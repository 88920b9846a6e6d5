// Row softmax and the fused cross-entropy over the vocabulary. Cross-entropy computes
// the loss and writes the logits' gradient in the same pass, so the logits are never
// copied for a separate softmax: logits [N, V], targets [N] (ignoreIndex skipped).

extension Kernels {
    /// In-place row softmax of `x` [rows, cols].
    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Parallel.forRanges(rows, work: rows * cols * 4) { r in
            for row in r { softmaxRow(x + row * cols, cols) }
        }
    }

    /// Softmax of one row in place; returns log(sum(exp(x − max))) + max (the logsumexp).
    @inline(__always) @discardableResult
    static func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        let m = rowMax(p, n)
        let mv = F8(repeating: m)
        var acc = F8()
        var i = 0
        while i + 8 <= n { let e = vexp(load8(p, i) - mv); store8(e, p, i); acc += e; i += 8 }
        var sum = hsum(acc)
        while i < n { let e = sexp(p[i] - m); p[i] = e; sum += e; i += 1 }
        let inv = F8(repeating: 1 / sum)
        i = 0
        while i + 8 <= n { store8(load8(p, i) * inv, p, i); i += 8 }
        while i < n { p[i] *= 1 / sum; i += 1 }
        return m + Float(_log(Double(sum)))
    }

    @inline(__always)
    static func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var mv = F8(repeating: -.infinity)
        var i = 0
        while i + 8 <= n { mv = vmax(mv, load8(p, i)); i += 8 }
        var m = hmax(mv)
        while i < n { if p[i] > m { m = p[i] }; i += 1 }
        return m
    }

    /// Cross-entropy: per-row loss[r] = logsumexp(x_r) − x_r[target_r] (0 where ignored) and
    /// grad[r] = (softmax(x_r) − onehot(target_r)) · gradScale (0 where ignored).
    /// `grad` may alias `logits` (in-place). Targets must already be range-checked.
    static func crossEntropy(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, ignoreIndex: Int32,
                             rows: Int, vocab: Int, gradScale: Float,
                             loss: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(rows, work: rows * vocab * 4) { r in
            for row in r {
                let x = logits + row * vocab
                let t = targets[row]
                if t == ignoreIndex {
                    loss[row] = 0
                    if let grad { (grad + row * vocab).update(repeating: 0, count: vocab) }
                    continue
                }
                let target = x[Int(t)]
                let m = rowMax(x, vocab)
                let mv = F8(repeating: m)
                var acc = F8()
                var i = 0
                if let grad {
                    let g = grad + row * vocab
                    while i + 8 <= vocab { let e = vexp(load8(x, i) - mv); store8(e, g, i); acc += e; i += 8 }
                    var sum = hsum(acc)
                    while i < vocab { let e = sexp(x[i] - m); g[i] = e; sum += e; i += 1 }
                    let k = F8(repeating: gradScale / sum)
                    i = 0
                    while i + 8 <= vocab { store8(load8(g, i) * k, g, i); i += 8 }
                    while i < vocab { g[i] *= gradScale / sum; i += 1 }
                    g[Int(t)] -= gradScale
                    loss[row] = m + Float(_log(Double(sum))) - target
                } else {
                    while i + 8 <= vocab { acc += vexp(load8(x, i) - mv); i += 8 }
                    var sum = hsum(acc)
                    while i < vocab { sum += sexp(x[i] - m); i += 1 }
                    loss[row] = m + Float(_log(Double(sum))) - target
                }
            }
        }
    }

    static func crossEntropyReference(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, ignoreIndex: Int32,
                                      rows: Int, vocab: Int, gradScale: Float,
                                      loss: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>) {
        for row in 0..<rows {
            let x = logits + row * vocab
            let t = targets[row]
            if t == ignoreIndex {
                loss[row] = 0
                for i in 0..<vocab { grad[row * vocab + i] = 0 }
                continue
            }
            var m = -Double.infinity
            for i in 0..<vocab { m = max(m, Double(x[i])) }
            var sum = 0.0
            for i in 0..<vocab { sum += _exp(Double(x[i]) - m) }
            let lse = m + _log(sum)
            loss[row] = Float(lse - Double(x[Int(t)]))
            for i in 0..<vocab {
                let p = _exp(Double(x[i]) - lse)
                grad[row * vocab + i] = Float((p - (i == Int(t) ? 1 : 0)) * Double(gradScale))
            }
        }
    }

    static func softmaxReference(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for row in 0..<rows {
            let p = x + row * cols
            var m = -Double.infinity
            for i in 0..<cols { m = max(m, Double(p[i])) }
            var sum = 0.0
            for i in 0..<cols { sum += _exp(Double(p[i]) - m) }
            for i in 0..<cols { p[i] = Float(_exp(Double(p[i]) - m) / sum) }
        }
    }
}
