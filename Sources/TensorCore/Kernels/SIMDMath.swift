// Vector math the kernels share: a polynomial exp over SIMD8<Float>, sigmoid, and
// horizontal sums. Swift never contracts a*b+c into an FMA and some stdlib SIMD helpers
// (clamped, pointwiseMin/Max, .max()) are not inlined, so these are written out by hand.

typealias F8 = SIMD8<Float>

/// exp(x) to about 1 ulp on [-87, 88] (Cephes expf coefficients, range reduction by
/// x = n·ln2 + r with |r| ≤ ln2/2). Below -87 returns 0, above 88 returns exp(88).
@inline(__always)
func vexp(_ xIn: F8) -> F8 {
    var x = xIn.replacing(with: 88.0, where: xIn .> 88.0)
    x = x.replacing(with: -87.0, where: x .< -87.0)
    // Round x·log2(e) to nearest with the 1.5·2^23 trick: the integer lands in the low
    // mantissa bits of t, which also gives 2^n by integer arithmetic.
    let magic = F8(repeating: 12_582_912.0)
    let t = magic.addingProduct(x, F8(repeating: 1.442_695_040_888_963_4))
    let n = t - magic
    var r = x.addingProduct(n, F8(repeating: -0.693_359_375))
    r = r.addingProduct(n, F8(repeating: 2.121_944_4e-4))
    var p = F8(repeating: 1.987_569_150_0e-4)
    p = F8(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
    p = F8(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
    p = F8(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
    p = F8(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
    p = F8(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
    let r2 = r * r
    let e = (r + 1).addingProduct(p, r2)
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    let scale = unsafeBitCast(bits, to: F8.self)
    let result = e * scale
    return result.replacing(with: 0, where: xIn .< -87.0)
}

/// Scalar exp with the same polynomial (for loop tails, so tails match the body).
@inline(__always)
func sexp(_ x: Float) -> Float {
    vexp(F8(repeating: x))[0]
}

/// 1 / (1 + exp(-x)).
@inline(__always)
func vsigmoid(_ x: F8) -> F8 {
    1 / (1 + vexp(-x))
}

@inline(__always)
func hsum(_ v: F8) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    return b[0] + b[1]
}

@inline(__always)
func hmax(_ v: F8) -> Float {
    var m = v[0]
    for i in 1..<8 where v[i] > m { m = v[i] }
    return m
}

@inline(__always)
func vmax(_ a: F8, _ b: F8) -> F8 {
    a.replacing(with: b, where: b .> a)
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

/// Dot product of `a[0..<n]` and `b[0..<n]` with SIMD accumulators.
@inline(__always)
func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = F8(), acc1 = F8()
    var i = 0
    while i + 16 <= n {
        acc0 = acc0.addingProduct(load8(a, i), load8(b, i))
        acc1 = acc1.addingProduct(load8(a, i + 8), load8(b, i + 8))
        i += 16
    }
    if i + 8 <= n { acc0 = acc0.addingProduct(load8(a, i), load8(b, i)); i += 8 }
    var s = hsum(acc0 + acc1)
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
