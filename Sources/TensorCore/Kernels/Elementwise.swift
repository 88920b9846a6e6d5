// Elementwise kernels: add, accumulate, multiply, scale, SiLU and the fused SwiGLU
// forward/backward (one pass over gate, up and the upstream gradient). The bodies are C
// (CKernels, picked per CPU), split across cores here above ~64 K elements; the scalar
// `…Reference` twins below are what tests compare them with.
internal import CKernels

extension Kernels {
    /// out = a + b.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n) { r in lk_add(a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, r.count) }
    }

    /// dst += alpha · src.
    static func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, alpha: Float = 1) {
        Parallel.forRanges(n, work: n) { r in lk_axpy(dst + r.lowerBound, src + r.lowerBound, r.count, alpha) }
    }

    /// out = a ⊙ b.
    static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n) { r in lk_mul(a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, r.count) }
    }

    /// out = s · a (out may alias a).
    static func scale(_ a: UnsafePointer<Float>, _ s: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n) { r in lk_scale(a + r.lowerBound, s, out + r.lowerBound, r.count) }
    }

    /// out = x · sigmoid(x).
    static func silu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in lk_silu(x + r.lowerBound, out + r.lowerBound, r.count) }
    }

    /// dx = dy · silu'(x), silu'(x) = s·(1 + x·(1 − s)), s = sigmoid(x).
    static func siluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            lk_silu_backward(x + r.lowerBound, dy + r.lowerBound, dx + r.lowerBound, r.count)
        }
    }

    /// out = silu(gate) ⊙ up.
    static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            lk_swiglu(gate + r.lowerBound, up + r.lowerBound, out + r.lowerBound, r.count)
        }
    }

    /// One pass: dGate = dy ⊙ up ⊙ silu'(gate), dUp = dy ⊙ silu(gate). Either output may be nil.
    static func swigluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            let o = r.lowerBound
            lk_swiglu_backward(gate + o, up + o, dy + o, dGate.map { $0 + o }, dUp.map { $0 + o }, r.count)
        }
    }

    // MARK: Reference twins (scalar, libm exp, Double where it matters)

    static func siluReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { let v = Double(x[i]); out[i] = Float(v / (1 + _exp(-v))) }
    }

    static func siluBackwardReference(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let v = Double(x[i]), s = 1 / (1 + _exp(-v))
            dx[i] = Float(Double(dy[i]) * s * (1 + v * (1 - s)))
        }
    }

    static func swigluReference(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let g = Double(gate[i])
            out[i] = Float(g / (1 + _exp(-g)) * Double(up[i]))
        }
    }

    static func swigluBackwardReference(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                        dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let g = Double(gate[i]), u = Double(up[i]), d = Double(dy[i])
            let s = 1 / (1 + _exp(-g))
            dGate[i] = Float(d * u * s * (1 + g * (1 - s)))
            dUp[i] = Float(d * g * s)
        }
    }

    static func expReference(_ x: Float) -> Float { Float(_exp(Double(x))) }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _tanhf(_ x: Float) -> Float { Glibc.tanhf(x) }
@inline(__always) func _tanh(_ x: Double) -> Double { Glibc.tanh(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _tanhf(_ x: Float) -> Float { Darwin.tanhf(x) }
@inline(__always) func _tanh(_ x: Double) -> Double { Darwin.tanh(x) }
#endif
