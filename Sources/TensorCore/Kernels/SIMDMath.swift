// The small vector helpers Swift kernels still use (loads, stores, sums) and thin wrappers
// over the C kernels' exp and dot product. Swift SIMD code is only kept where it is as fast
// at the SSE2 baseline a flag-free release build targets: anything with a multiply-add, an
// exp or a half-float conversion is in CKernels (see SIMDLevel.swift).
internal import CKernels

typealias F8 = SIMD8<Float>

/// exp(x) with the kernels' polynomial (Cephes expf, ~1 ulp on [-87, 88]; below -87 gives 0,
/// above 88 gives exp(88)), in the active SIMD variant.
@inline(__always)
func sexp(_ x: Float) -> Float { lk_exp(x) }

@inline(__always)
func hsum(_ v: F8) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    return b[0] + b[1]
}

/// Loads 8 floats from `p + i`.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> F8 {
    UnsafeRawPointer(p + i).loadUnaligned(as: F8.self)
}

/// Stores 8 floats at `p + i`.
@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: F8.self)
}

/// Sum of `p[0..<n]` with SIMD accumulators.
@inline(__always)
func vsum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = F8(), acc1 = F8()
    var i = 0
    while i + 16 <= n {
        acc0 += load8(p, i); acc1 += load8(p, i + 8); i += 16
    }
    if i + 8 <= n { acc0 += load8(p, i); i += 8 }
    var s = hsum(acc0 + acc1)
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Dot product of `a[0..<n]` and `b[0..<n]` (two 8-lane FMA accumulators, then the tail).
@inline(__always)
func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    lk_dot(a, b, n)
}
