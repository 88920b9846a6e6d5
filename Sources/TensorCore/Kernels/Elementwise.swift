// Elementwise kernels: add, accumulate, multiply, scale, SiLU and the fused SwiGLU
// forward/backward (one pass over gate, up and the upstream gradient). SIMD8 bodies,
// split across cores above ~64 K elements; each has a scalar `…Reference` twin.

extension Kernels {
    /// out = a + b.
    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(a, i) + load8(b, i), out, i); i += 8 }
            while i < r.upperBound { out[i] = a[i] + b[i]; i += 1 }
        }
    }

    /// dst += alpha · src.
    static func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, alpha: Float = 1) {
        let av = F8(repeating: alpha)
        Parallel.forRanges(n, work: n) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(dst, i).addingProduct(load8(src, i), av), dst, i); i += 8 }
            while i < r.upperBound { dst[i] += alpha * src[i]; i += 1 }
        }
    }

    /// out = a ⊙ b.
    static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(a, i) * load8(b, i), out, i); i += 8 }
            while i < r.upperBound { out[i] = a[i] * b[i]; i += 1 }
        }
    }

    /// out = s · a (out may alias a).
    static func scale(_ a: UnsafePointer<Float>, _ s: Float, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        let sv = F8(repeating: s)
        Parallel.forRanges(n, work: n) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { store8(load8(a, i) * sv, out, i); i += 8 }
            while i < r.upperBound { out[i] = a[i] * s; i += 1 }
        }
    }

    /// out = x · sigmoid(x).
    static func silu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound { let v = load8(x, i); store8(v * vsigmoid(v), out, i); i += 8 }
            while i < r.upperBound {
                let v = F8(repeating: x[i]); out[i] = (v * vsigmoid(v))[0]; i += 1
            }
        }
    }

    /// dx = dy · silu'(x), silu'(x) = s·(1 + x·(1 − s)), s = sigmoid(x).
    static func siluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            var i = r.lowerBound
            while i < r.upperBound {
                let w = min(8, r.upperBound - i)
                var xv = F8(), dv = F8()
                if w == 8 { xv = load8(x, i); dv = load8(dy, i) } else {
                    for j in 0..<w { xv[j] = x[i + j]; dv[j] = dy[i + j] }
                }
                let s = vsigmoid(xv)
                let g = dv * s * (1 + xv * (1 - s))
                if w == 8 { store8(g, dx, i) } else { for j in 0..<w { dx[i + j] = g[j] } }
                i += w
            }
        }
    }

    /// out = silu(gate) ⊙ up.
    static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let g = load8(gate, i)
                store8(g * vsigmoid(g) * load8(up, i), out, i)
                i += 8
            }
            while i < r.upperBound {
                let g = F8(repeating: gate[i]); out[i] = (g * vsigmoid(g))[0] * up[i]; i += 1
            }
        }
    }

    /// One pass: dGate = dy ⊙ up ⊙ silu'(gate), dUp = dy ⊙ silu(gate). Either output may be nil.
    static func swigluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, _ n: Int) {
        Parallel.forRanges(n, work: n * 4) { r in
            var i = r.lowerBound
            while i < r.upperBound {
                let w = min(8, r.upperBound - i)
                var g = F8(), u = F8(), d = F8()
                if w == 8 { g = load8(gate, i); u = load8(up, i); d = load8(dy, i) } else {
                    for j in 0..<w { g[j] = gate[i + j]; u[j] = up[i + j]; d[j] = dy[i + j] }
                }
                let s = vsigmoid(g)
                let silu = g * s
                let dg = d * u * s * (1 + g * (1 - s))
                let du = d * silu
                if w == 8 {
                    if let dGate { store8(dg, dGate, i) }
                    if let dUp { store8(du, dUp, i) }
                } else {
                    for j in 0..<w {
                        dGate?[i + j] = dg[j]
                        dUp?[i + j] = du[j]
                    }
                }
                i += w
            }
        }
    }

    // MARK: Reference twins (scalar, libm exp, Double where it matters)

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
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
#endif
