// Soft-capping on the tape: y = c·tanh(x/c) (Gemma 2's final logits; its attention scores are
// capped inside the attention kernel). Backward (the `.softcap` case of Backward.swift) reads
// only the output: dy/dx = 1 − tanh² = 1 − (y/c)².

extension Tape {
    /// c·tanh(x / c), elementwise; `cap` must be positive.
    public func softcap(_ x: Var, cap: Float) throws -> Var {
        guard cap > 0, cap.isFinite else {
            throw TensorError.invalidShape(op: "softcap \(cap)", shape: [], expected: "a positive cap")
        }
        let xv = value(x)
        var y = Tensor(uninitialized: xv.shape)
        y.withUnsafeMutableFloats { yp in xv.withUnsafeFloats { xp in
            Kernels.softcap(xp.baseAddress!, yp.baseAddress!, xv.count, cap: cap)
        } }
        return record(y, inputs: [x], op: .softcap(x, cap: cap))
    }
}

extension Kernels {
    static func softcap(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, cap: Float) {
        Parallel.forRanges(n, work: n * 16) { r in
            for i in r { y[i] = cap * _tanhf(x[i] / cap) }
        }
    }

    /// dx = dy · (1 − (y/c)²).
    static func softcapBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                _ n: Int, cap: Float) {
        Parallel.forRanges(n, work: n * 4) { r in
            for i in r { let t = y[i] / cap; dx[i] = dy[i] * (1 - t * t) }
        }
    }
}
