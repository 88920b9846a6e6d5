// Every fast kernel against its plain reference twin on random inputs, in every SIMD
// variant of the C kernels this machine can run (forEachSIMDLevel); the conversions, which
// have one right answer, bit for bit and equal across variants.
import XCTest
@testable import TensorCore
import TestSupport

final class KernelTwinTests: XCTestCase {
    func testGemmAllTransposesAndStrides() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for (m, n, k) in [(1, 1, 1), (1, 9, 7), (7, 5, 3), (33, 17, 65)] {
                let a = randn(ta ? [k, m] : [m, k], seed: 1).floats, b = randn(tb ? [n, k] : [k, n], seed: 2).floats
                var c1 = randn([m, n], seed: 3).floats, c2 = c1
                BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                          beta: 0.25, c: &c1, ldc: n)
                BLAS.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                                   beta: 0.25, c: &c2, ldc: n)
                assertClose(c1, c2, rtol: 1e-4, atol: 1e-5, "ta=\(ta) tb=\(tb) \(m)x\(n)x\(k)")
            }
        }
    }

    func testBatchedMatmul() throws {
        let a = randn([3, 4, 5], seed: 4), b = randn([3, 6, 5], seed: 5)
        let c = try Tensor.matmul(a, b, transposeB: true)
        XCTAssertEqual(c.shape, [3, 4, 6])
        for i in 0..<3 {
            let ci = try Tensor.matmul(try a.slice(i..<(i + 1)).reshaped([4, 5]), try b.slice(i..<(i + 1)).reshaped([6, 5]), transposeB: true)
            assertClose(try c.slice(i..<(i + 1)).floats, ci.floats)
        }
    }

    func testExpMatchesLibm() {
        forEachSIMDLevel { level in
            var xs: [Float] = stride(from: -87.0 as Float, through: 88, by: 0.0137).map { $0 }
            xs += [0, -0.0, 1e-8, -1e-8, 0.5, -0.5]
            for x in xs {
                let e = sexp(x), ref = Kernels.expReference(x)
                XCTAssertLessThanOrEqual(abs(e - ref), 3 * ref.ulp, "exp(\(x)) \(level)")
            }
            XCTAssertEqual(sexp(-.infinity), 0, "\(level)")
            XCTAssertEqual(sexp(-1000), 0, "\(level)")
        }
    }

    func testSwiGLUForwardBackward() {
        forEachSIMDLevel { level in
            let n = 1003
            let g = randn([n], seed: 6, std: 3).floats, u = randn([n], seed: 7).floats, dy = randn([n], seed: 8).floats
            var out = [Float](repeating: 0, count: n), ref = out
            Kernels.swiglu(gate: g, up: u, out: &out, n)
            Kernels.swigluReference(gate: g, up: u, out: &ref, n)
            assertClose(out, ref, rtol: 1e-5, atol: 1e-6, "\(level)")
            var dg = out, du = out, dgr = out, dur = out
            Kernels.swigluBackward(gate: g, up: u, dy: dy, dGate: &dg, dUp: &du, n)
            Kernels.swigluBackwardReference(gate: g, up: u, dy: dy, dGate: &dgr, dUp: &dur, n)
            assertClose(dg, dgr, rtol: 1e-5, atol: 1e-6, "\(level)")
            assertClose(du, dur, rtol: 1e-5, atol: 1e-6, "\(level)")
        }
    }

    func testGeGLUForwardBackward() {
        forEachSIMDLevel { level in
            // std 3 reaches the tails (|u| > 9, where tanh rounds to ±1) as well as the middle.
            let n = 1003
            let g = randn([n], seed: 9, std: 3).floats, u = randn([n], seed: 10).floats, dy = randn([n], seed: 11).floats
            var out = [Float](repeating: 0, count: n), ref = out
            Kernels.geglu(gate: g, up: u, out: &out, n)
            Kernels.gegluReference(gate: g, up: u, out: &ref, n)
            assertClose(out, ref, rtol: 1e-5, atol: 1e-6, "\(level)")
            var dg = out, du = out, dgr = out, dur = out
            Kernels.gegluBackward(gate: g, up: u, dy: dy, dGate: &dg, dUp: &du, n)
            Kernels.gegluBackwardReference(gate: g, up: u, dy: dy, dGate: &dgr, dUp: &dur, n)
            assertClose(dg, dgr, rtol: 1e-5, atol: 1e-6, "\(level)")
            assertClose(du, dur, rtol: 1e-5, atol: 1e-6, "\(level)")
            // dUp may overwrite the gate.
            var inPlace = g
            inPlace.withUnsafeMutableBufferPointer { p in
                Kernels.gegluBackward(gate: p.baseAddress!, up: u, dy: dy, dGate: nil, dUp: p.baseAddress!, n)
            }
            XCTAssertEqual(inPlace, du, "\(level)")
        }
    }

    func testRMSNorm() {
        forEachSIMDLevel { level in
            for (rows, dim) in [(3, 7), (300, 576)] {
                let x = randn([rows, dim], seed: 9).floats, w = randn([dim], seed: 10).floats
                var y = [Float](repeating: 0, count: rows * dim), ref = y
                Kernels.rmsnorm(x: x, w: w, eps: 1e-5, y: &y, rstd: nil, rows: rows, dim: dim)
                Kernels.rmsnormReference(x: x, w: w, eps: 1e-5, y: &ref, rows: rows, dim: dim)
                assertClose(y, ref, rtol: 1e-5, atol: 1e-6, "\(level)")
            }
        }
    }

    func testRope() {
        forEachSIMDLevel { level in
            for layout in [RopeLayout.halfSplit, .interleaved] {
                let (tokens, heads, hd) = (37, 3, 64)
                let inv = RopeTable.defaultInverseFrequencies(headDim: hd, base: 10_000)
                let table = RopeTable(inverseFrequencies: inv, maxPositions: 2048)
                let x = randn([tokens, heads, hd], seed: 11).floats
                let pos = (0..<tokens).map { Int32($0 * 50) }
                var y = x, ref = x, back = x
                Kernels.rope(x: x, y: &y, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: false)
                Kernels.ropeReference(x: x, y: &ref, positions: pos, tokens: tokens, heads: heads, headDim: hd, inverseFrequencies: inv, layout: layout)
                assertClose(y, ref, rtol: 1e-5, atol: 1e-5, "\(level)")
                Kernels.rope(x: y, y: &back, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: true)
                assertClose(back, x, rtol: 1e-5, atol: 1e-5, "inverse rotation undoes the rotation \(level)")
            }
        }
    }

    func testPartialScaledRope() {
        // Rotating 48 (whole vector blocks) or 20 (a scalar tail) of 64 values, cos/sin scaled: the
        // rest must be copied into a separate output, and the transposed rotation gives scale² · x.
        forEachSIMDLevel { level in
            for layout in [RopeLayout.halfSplit, .interleaved] {
                for rot in [48, 20] {
                    let (tokens, heads, hd, scale): (Int, Int, Int, Float) = (9, 2, 64, 1.19)
                    let inv = RopeTable.defaultInverseFrequencies(headDim: rot, base: 10_000)
                    let table = RopeTable(inverseFrequencies: inv, maxPositions: 512, scale: scale)
                    let x = randn([tokens, heads, hd], seed: 13).floats
                    let pos = (0..<tokens).map { Int32($0 * 50) }
                    var y = [Float](repeating: .nan, count: x.count), ref = y, back = y
                    Kernels.rope(x: x, y: &y, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: false)
                    Kernels.ropeReference(x: x, y: &ref, positions: pos, tokens: tokens, heads: heads, headDim: hd, inverseFrequencies: inv,
                                          layout: layout, scale: scale)
                    assertClose(y, ref, rtol: 1e-5, atol: 1e-5, "rot \(rot) \(level)")
                    for r in 0..<(tokens * heads) { XCTAssertEqual(Array(y[(r * hd + rot)..<((r + 1) * hd)]), Array(x[(r * hd + rot)..<((r + 1) * hd)])) }
                    Kernels.rope(x: y, y: &back, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: true)
                    let expected = x.indices.map { i in i % hd < rot ? x[i] * scale * scale : x[i] }
                    assertClose(back, expected, rtol: 1e-5, atol: 1e-5, "transpose of the scaled rotation \(level)")
                }
            }
        }
    }

    func testSoftmaxAndCrossEntropy() {
        forEachSIMDLevel { level in
            let (rows, vocab) = (9, 1001)
            var x = randn([rows, vocab], seed: 12, std: 4).floats
            let xs = x
            var ref = x
            Kernels.softmaxRows(&x, rows: rows, cols: vocab)
            Kernels.softmaxReference(&ref, rows: rows, cols: vocab)
            assertClose(x, ref, rtol: 1e-5, atol: 1e-7, "\(level)")
            let targets: [Int32] = [0, 5, -100, 1000, 3, 3, 999, -100, 42]
            var loss = [Float](repeating: 0, count: rows), lossRef = loss
            var grad = xs, gradRef = xs
            Kernels.crossEntropy(logits: xs, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5, loss: &loss, grad: &grad)
            Kernels.crossEntropyReference(logits: xs, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5, loss: &lossRef, grad: &gradRef)
            assertClose(loss, lossRef, rtol: 1e-5, atol: 1e-5, "\(level)")
            assertClose(grad, gradRef, rtol: 1e-4, atol: 1e-7, "\(level)")
            // In place: the gradient may overwrite the logits.
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { p in
                Kernels.crossEntropy(logits: p.baseAddress!, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5,
                                     loss: &loss, grad: p.baseAddress!)
            }
            XCTAssertEqual(inPlace, grad, "\(level)")
        }
    }

    func testAttentionForwardAgainstReference() {
        forEachSIMDLevel { level in
            let cases: [(AttentionShape, Bool)] = [
                (AttentionShape(batch: 2, queryLength: 150, keyLength: 150, queryHeads: 4, kvHeads: 2, headDim: 8, scale: 0.3), false),
                (AttentionShape(batch: 1, queryLength: 9, keyLength: 9, queryHeads: 3, kvHeads: 1, headDim: 5, scale: 0.5), true),
                (AttentionShape(batch: 1, queryLength: 3, keyLength: 20, queryHeads: 2, kvHeads: 2, headDim: 4, queryOffset: 17, scale: 0.5), false),
                (AttentionShape(batch: 1, queryLength: 6, keyLength: 6, queryHeads: 2, kvHeads: 1, headDim: 4, causal: false, scale: 0.5), false),
                (AttentionShape(batch: 2, queryLength: 150, keyLength: 150, queryHeads: 2, kvHeads: 1, headDim: 8, scale: 0.3, window: 7), false),
                (AttentionShape(batch: 1, queryLength: 9, keyLength: 9, queryHeads: 2, kvHeads: 1, headDim: 4, scale: 0.5, window: 2), true),
                (AttentionShape(batch: 1, queryLength: 3, keyLength: 20, queryHeads: 2, kvHeads: 2, headDim: 4, queryOffset: 17, scale: 0.5, window: 4), false),
                (AttentionShape(batch: 2, queryLength: 150, keyLength: 150, queryHeads: 2, kvHeads: 1, headDim: 8, scale: 0.9, window: 9, softcap: 0.8), false),
                (AttentionShape(batch: 1, queryLength: 9, keyLength: 9, queryHeads: 2, kvHeads: 1, headDim: 4, scale: 0.9, softcap: 1.2), true),
                // Decoding (one query row: the per-head row kernels, heads across threads): GQA,
                // head sizes of 64, 72 (64 + 8) and 5 (a scalar tail), windows, several sequences.
                (AttentionShape(batch: 1, queryLength: 1, keyLength: 300, queryHeads: 9, kvHeads: 3, headDim: 64, queryOffset: 299, scale: 0.125), false),
                (AttentionShape(batch: 3, queryLength: 1, keyLength: 40, queryHeads: 4, kvHeads: 1, headDim: 72, queryOffset: 39, scale: 0.2), false),
                (AttentionShape(batch: 1, queryLength: 1, keyLength: 40, queryHeads: 2, kvHeads: 2, headDim: 5, queryOffset: 39, scale: 0.5, window: 6), false),
                (AttentionShape(batch: 1, queryLength: 1, keyLength: 12, queryHeads: 2, kvHeads: 1, headDim: 8, queryOffset: 7, scale: 0.5), false),
                (AttentionShape(batch: 1, queryLength: 1, keyLength: 12, queryHeads: 2, kvHeads: 1, headDim: 8, causal: false, scale: 0.5), false),
            ]
            for (shape, useSegments) in cases {
                let q = randn([shape.batch, shape.queryLength, shape.queryHeads, shape.headDim], seed: 13).floats
                let k = randn([shape.batch, shape.keyLength, shape.kvHeads, shape.headDim], seed: 14).floats
                let v = randn([shape.batch, shape.keyLength, shape.kvHeads, shape.headDim], seed: 15).floats
                let seg: [Int32]? = useSegments ? [0, 0, 1, 1, 1, 2, 2, 2, 2] : nil
                var out = [Float](repeating: 0, count: q.count), ref = out
                Kernels.attentionForward(q: q, k: k, v: v, out: &out, lse: nil, shape: shape, segments: seg)
                Kernels.attentionReference(q: q, k: k, v: v, out: &ref, shape: shape, segments: seg)
                assertClose(out, ref, rtol: 1e-4, atol: 1e-5, "\(shape) \(level)")
            }
        }
    }

    func testAdamW() {
        forEachSIMDLevel { level in
            let n = 1001
            let config = AdamWConfig(weightDecay: 0.1)
            var w = randn([n], seed: 16).floats, m = randn([n], seed: 17, std: 0.1).floats
            var v = randn([n], seed: 18).floats.map { $0 * $0 * 0.01 }
            var w2 = w, m2 = m, v2 = v
            let g = randn([n], seed: 19).floats
            Kernels.adamw(w: &w, g: g, m: &m, v: &v, n, lr: 1e-2, config: config, bc1: 0.271, bc2: 0.00299)
            Kernels.adamwReference(w: &w2, g: g, m: &m2, v: &v2, n, lr: 1e-2, config: config, bc1: 0.271, bc2: 0.00299)
            assertClose(w, w2, rtol: 1e-5, atol: 1e-6, "\(level)")
            assertClose(m, m2, rtol: 1e-5, atol: 1e-7, "\(level)")
            assertClose(v, v2, rtol: 1e-5, atol: 1e-8, "\(level)")
        }
    }

    func testWidenNarrowRoundTrip() {
        forEachSIMDLevel { level in
            let x = randn([1000], seed: 20, std: 10)
            for dtype in [DType.bf16, .f16] {
                let back = x.narrowed(to: dtype).widened().floats
                let rel: Float = dtype == .bf16 ? 1.0 / 256 : 1.0 / 2048
                assertClose(back, x.floats, rtol: rel, atol: 1e-6, "\(dtype) \(level)")
            }
            // bf16 rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 → 1.
            let tie = try! Tensor(shape: [2], values: [1 + 1.0 / 256, 1 + 3.0 / 256]).narrowed(to: .bf16).widened().floats
            XCTAssertEqual(tie, [1, 1 + 4.0 / 256], "\(level)")
        }
    }

    func testElementwiseKernels() {
        forEachSIMDLevel { level in
            for n in [1, 7, 8, 17, 1003, 70_001] {
                let a = randn([n], seed: 21, std: 3).floats, b = randn([n], seed: 22).floats
                var out = [Float](repeating: 0, count: n), ref = out
                // One rounding each: every variant must give exactly the scalar result.
                Kernels.add(a, b, &out, n)
                XCTAssertEqual(out, zip(a, b).map { $0 + $1 }, "add \(n) \(level)")
                Kernels.mul(a, b, &out, n)
                XCTAssertEqual(out, zip(a, b).map { $0 * $1 }, "mul \(n) \(level)")
                Kernels.scale(a, 0.37, &out, n)
                XCTAssertEqual(out, a.map { $0 * 0.37 }, "scale \(n) \(level)")
                out = b
                Kernels.accumulate(&out, a, n, alpha: -0.37)
                assertClose(out, zip(a, b).map { Float(Double($1) - 0.37 * Double($0)) }, rtol: 1e-6, atol: 1e-6, "axpy \(n) \(level)")
                Kernels.silu(a, &out, n)
                Kernels.siluReference(a, &ref, n)
                assertClose(out, ref, rtol: 1e-5, atol: 1e-6, "silu \(n) \(level)")
                Kernels.siluBackward(a, b, &out, n)
                Kernels.siluBackwardReference(a, b, &ref, n)
                assertClose(out, ref, rtol: 1e-5, atol: 1e-6, "silu backward \(n) \(level)")
            }
        }
    }

    func testRMSNormBackward() {
        forEachSIMDLevel { level in
            for (rows, dim) in [(3, 7), (300, 576)] {
                let x = randn([rows, dim], seed: 23).floats, w = randn([dim], seed: 24).floats, dy = randn([rows, dim], seed: 25).floats
                for weight in [true, false] {
                    var y = [Float](repeating: 0, count: rows * dim), rstd = [Float](repeating: 0, count: rows)
                    var dx = y, dxRef = y, dw = [Float](repeating: 0.5, count: dim), dwRef = dw
                    w.withUnsafeBufferPointer { wp in
                        let wv = weight ? wp.baseAddress : nil
                        Kernels.rmsnorm(x: x, w: wv, eps: 1e-5, y: &y, rstd: &rstd, rows: rows, dim: dim)
                        Kernels.rmsnormBackward(x: x, w: wv, rstd: rstd, dy: dy, dx: &dx, dw: &dw, rows: rows, dim: dim)
                        Kernels.rmsnormBackwardReference(x: x, w: wv, rstd: rstd, dy: dy, dx: &dxRef, dw: &dwRef, rows: rows, dim: dim)
                    }
                    assertClose(dx, dxRef, rtol: 1e-4, atol: 1e-5, "dx \(rows)x\(dim) weight \(weight) \(level)")
                    assertClose(dw, dwRef, rtol: 1e-4, atol: 1e-4, "dw \(rows)x\(dim) weight \(weight) \(level)")
                }
            }
        }
    }

    #if arch(x86_64) || arch(arm64)
    func testHalfConversionsAreExact() {
        forEachSIMDLevel { level in
            // Every f16 value widens exactly; NaN comes back quiet with its payload (as F16C does).
            let halves = (0...UInt16.max).map { $0 }
            var widened = [Float](repeating: 0, count: halves.count)
            halves.withUnsafeBytes { Kernels.widen($0, dtype: .f16, into: &widened, count: halves.count) }
            for (h, f) in zip(halves, widened) {
                let expected = Float(Float16(bitPattern: h))
                if expected.isNaN {
                    let quiet = UInt32(h & 0x8000) << 16 | 0x7FC0_0000 | UInt32(h & 0x3FF) << 13
                    XCTAssertEqual(f.bitPattern, quiet, "f16 NaN \(h) \(level)")
                } else {
                    XCTAssertEqual(f.bitPattern, expected.bitPattern, "f16 \(h) \(level)")
                }
            }
            // float32 → f16 and bf16 round to nearest even, over a spread of bit patterns: both
            // signs, subnormals, the f16 overflow edge, infinities and NaN payloads.
            var xs = stride(from: UInt32(0), to: UInt32.max - 8191, by: 8191).map { Float(bitPattern: $0) }
            xs += [65504, 65519.996, 65520, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-14, 0x1.ff8p-15, .infinity, -.infinity,
                   .nan, Float(bitPattern: 0x7FA0_0001), Float(bitPattern: 0xFF81_2345), 1 + 1.0 / 256, 1 + 3.0 / 256]
            var f16 = [UInt16](repeating: 0, count: xs.count), bf16 = f16
            xs.withUnsafeBufferPointer { src in
                f16.withUnsafeMutableBytes { Kernels.narrow(src, into: $0, dtype: .f16) }
                bf16.withUnsafeMutableBytes { Kernels.narrow(src, into: $0, dtype: .bf16) }
            }
            for (i, x) in xs.enumerated() {
                let b = x.bitPattern
                let expected = x.isNaN ? UInt16(b >> 16 & 0x8000) | 0x7E00 | UInt16(b >> 13 & 0x3FF) : Float16(x).bitPattern
                XCTAssertEqual(f16[i], expected, "f16 of \(String(b, radix: 16)) \(level)")
                XCTAssertEqual(bf16[i], Kernels.bf16Bits(x), "bf16 of \(String(b, radix: 16)) \(level)")
            }
            var back = [Float](repeating: 0, count: xs.count)
            bf16.withUnsafeBytes { Kernels.widen($0, dtype: .bf16, into: &back, count: xs.count) }
            XCTAssertEqual(back.map(\.bitPattern), bf16.map { UInt32($0) << 16 }, "bf16 widen \(level)")
        }
    }
    #endif
}
