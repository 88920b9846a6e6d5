// GeGLU with the tanh-approximated GELU (PyTorch's gelu(approximate="tanh"), transformers'
// `gelu_pytorch_tanh`, Gemma's MLP): out = gelu(gate) ⊙ up, with
// gelu(x) = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
// Rows run in CKernels (`lk_geglu`, `lk_geglu_backward`: ½(1 + tanh u) as sigmoid(2u) over the
// vector exp); `gegluReference` and `gegluBackwardReference` are the Double twins over libm tanh.

internal import CKernels

extension Kernels {
    static func geglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 6) { r in
            lk_geglu(gate + r.lowerBound, up + r.lowerBound, out + r.lowerBound, r.count)
        }
    }

    /// One pass: dGate = dy ⊙ up ⊙ gelu'(gate), dUp = dy ⊙ gelu(gate). Either output may be nil.
    static func gegluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, _ n: Int) {
        Parallel.forRanges(n, work: n * 8) { r in
            let o = r.lowerBound
            lk_geglu_backward(gate + o, up + o, dy + o, dGate.map { $0 + o }, dUp.map { $0 + o }, r.count)
        }
    }

    static func gegluReference(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let x = Double(gate[i])
            let t = _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
            out[i] = Float(0.5 * x * (1 + t) * Double(up[i]))
        }
    }

    /// gelu'(x) = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u), in Double.
    static func gegluBackwardReference(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                       dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, _ n: Int) {
        let c = 0.7978845608028654, a = 0.044715
        for i in 0..<n {
            let x = Double(gate[i]), d = Double(dy[i])
            let t = _tanh(c * (x + a * x * x * x))
            let derivative = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x)
            dGate[i] = Float(d * Double(up[i]) * derivative)
            dUp[i] = Float(d * 0.5 * x * (1 + t))
        }
    }
}
