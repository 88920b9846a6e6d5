// GeGLU with the tanh-approximated GELU (PyTorch's gelu(approximate="tanh"), transformers'
// `gelu_pytorch_tanh`, Gemma's MLP): out = gelu(gate) ⊙ up, with
// gelu(x) = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
// Rows are plain Swift over libm tanhf (Float); `gegluReference` is the Double twin.

extension Kernels {
    static let geluC: Float = 0.7978845608028654  // √(2/π)
    static let geluA: Float = 0.044715

    @inline(__always) static func geluTanh(_ x: Float) -> (value: Float, derivative: Float) {
        let x2 = x * x
        let t = _tanhf(geluC * x.addingProduct(geluA * x2, x))
        let half = 0.5 * (1 + t)
        // d/dx = ½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
        let d = half + 0.5 * x * (1 - t * t) * geluC * (1 + 3 * geluA * x2)
        return (x * half, d)
    }

    static func geglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 16) { r in
            for i in r { out[i] = geluTanh(gate[i]).value * up[i] }
        }
    }

    /// One pass: dGate = dy ⊙ up ⊙ gelu'(gate), dUp = dy ⊙ gelu(gate). Either output may be nil.
    static func gegluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                              dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, _ n: Int) {
        Parallel.forRanges(n, work: n * 16) { r in
            for i in r {
                let (g, dg) = geluTanh(gate[i])
                dGate?[i] = dy[i] * up[i] * dg
                dUp?[i] = dy[i] * g
            }
        }
    }

    static func gegluReference(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let x = Double(gate[i])
            let t = _tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
            out[i] = Float(0.5 * x * (1 + t) * Double(up[i]))
        }
    }
}

