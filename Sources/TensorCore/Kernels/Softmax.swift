// Row softmax and the fused cross-entropy over the vocabulary. Cross-entropy computes
// the loss and writes the logits' gradient in the same pass, so the logits are never
// copied for a separate softmax: logits [N, V], targets [N] (ignoreIndex skipped).
// Row bodies are C kernels (CKernels); the Double-precision `…Reference` twins check them.
internal import CKernels

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
        lk_softmax_row(p, n)
    }

    /// Cross-entropy: per-row loss[r] = logsumexp(x_r) − x_r[target_r] (0 where ignored) and
    /// grad[r] = (softmax(x_r) − onehot(target_r)) · gradScale (0 where ignored).
    /// `grad` may alias `logits` (in-place). Targets must already be range-checked.
    static func crossEntropy(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, ignoreIndex: Int32,
                             rows: Int, vocab: Int, gradScale: Float,
                             loss: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(rows, work: rows * vocab * 4) { r in
            for row in r {
                let t = targets[row]
                let g = grad.map { $0 + row * vocab }
                if t == ignoreIndex {
                    loss[row] = 0
                    g?.update(repeating: 0, count: vocab)
                    continue
                }
                loss[row] = lk_cross_entropy_row(logits + row * vocab, vocab, Int(t), gradScale, g)
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
