// Every fast kernel against its plain reference twin on random inputs.
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
        var xs: [Float] = stride(from: -87.0 as Float, through: 88, by: 0.0137).map { $0 }
        xs += [0, -0.0, 1e-8, -1e-8, 0.5, -0.5]
        for x in xs {
            let e = sexp(x), ref = Kernels.expReference(x)
            XCTAssertLessThanOrEqual(abs(e - ref), 3 * ref.ulp, "exp(\(x))")
        }
        XCTAssertEqual(sexp(-.infinity), 0)
        XCTAssertEqual(sexp(-1000), 0)
    }

    func testSwiGLUForwardBackward() {
        let n = 1003
        let g = randn([n], seed: 6, std: 3).floats, u = randn([n], seed: 7).floats, dy = randn([n], seed: 8).floats
        var out = [Float](repeating: 0, count: n), ref = out
        Kernels.swiglu(gate: g, up: u, out: &out, n)
        Kernels.swigluReference(gate: g, up: u, out: &ref, n)
        assertClose(out, ref, rtol: 1e-5, atol: 1e-6)
        var dg = out, du = out, dgr = out, dur = out
        Kernels.swigluBackward(gate: g, up: u, dy: dy, dGate: &dg, dUp: &du, n)
        Kernels.swigluBackwardReference(gate: g, up: u, dy: dy, dGate: &dgr, dUp: &dur, n)
        assertClose(dg, dgr, rtol: 1e-5, atol: 1e-6)
        assertClose(du, dur, rtol: 1e-5, atol: 1e-6)
    }

    func testRMSNorm() {
        for (rows, dim) in [(3, 7), (300, 576)] {
            let x = randn([rows, dim], seed: 9).floats, w = randn([dim], seed: 10).floats
            var y = [Float](repeating: 0, count: rows * dim), ref = y
            Kernels.rmsnorm(x: x, w: w, eps: 1e-5, y: &y, rstd: nil, rows: rows, dim: dim)
            Kernels.rmsnormReference(x: x, w: w, eps: 1e-5, y: &ref, rows: rows, dim: dim)
            assertClose(y, ref, rtol: 1e-5, atol: 1e-6)
        }
    }

    func testRope() {
        for layout in [RopeLayout.halfSplit, .interleaved] {
            let (tokens, heads, hd) = (37, 3, 64)
            let inv = RopeTable.defaultInverseFrequencies(headDim: hd, base: 10_000)
            let table = RopeTable(inverseFrequencies: inv, maxPositions: 2048)
            let x = randn([tokens, heads, hd], seed: 11).floats
            let pos = (0..<tokens).map { Int32($0 * 50) }
            var y = x, ref = x, back = x
            Kernels.rope(x: x, y: &y, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: false)
            Kernels.ropeReference(x: x, y: &ref, positions: pos, tokens: tokens, heads: heads, headDim: hd, inverseFrequencies: inv, layout: layout)
            assertClose(y, ref, rtol: 1e-5, atol: 1e-5)
            Kernels.rope(x: y, y: &back, positions: pos, tokens: tokens, heads: heads, headDim: hd, table: table, layout: layout, inverse: true)
            assertClose(back, x, rtol: 1e-5, atol: 1e-5, "inverse rotation undoes the rotation")
        }
    }

    func testSoftmaxAndCrossEntropy() {
        let (rows, vocab) = (9, 1001)
        var x = randn([rows, vocab], seed: 12, std: 4).floats
        let xs = x
        var ref = x
        Kernels.softmaxRows(&x, rows: rows, cols: vocab)
        Kernels.softmaxReference(&ref, rows: rows, cols: vocab)
        assertClose(x, ref, rtol: 1e-5, atol: 1e-7)
        let targets: [Int32] = [0, 5, -100, 1000, 3, 3, 999, -100, 42]
        var loss = [Float](repeating: 0, count: rows), lossRef = loss
        var grad = xs, gradRef = xs
        Kernels.crossEntropy(logits: xs, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5, loss: &loss, grad: &grad)
        Kernels.crossEntropyReference(logits: xs, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5, loss: &lossRef, grad: &gradRef)
        assertClose(loss, lossRef, rtol: 1e-5, atol: 1e-5)
        assertClose(grad, gradRef, rtol: 1e-4, atol: 1e-7)
        // In place: the gradient may overwrite the logits.
        var inPlace = xs
        inPlace.withUnsafeMutableBufferPointer { p in
            Kernels.crossEntropy(logits: p.baseAddress!, targets: targets, ignoreIndex: -100, rows: rows, vocab: vocab, gradScale: 0.5,
                                 loss: &loss, grad: p.baseAddress!)
        }
        XCTAssertEqual(inPlace, grad)
    }

    func testAttentionForwardAgainstReference() {
        let cases: [(AttentionShape, Bool)] = [
            (AttentionShape(batch: 2, queryLength: 150, keyLength: 150, queryHeads: 4, kvHeads: 2, headDim: 8, scale: 0.3), false),
            (AttentionShape(batch: 1, queryLength: 9, keyLength: 9, queryHeads: 3, kvHeads: 1, headDim: 5, scale: 0.5), true),
            (AttentionShape(batch: 1, queryLength: 3, keyLength: 20, queryHeads: 2, kvHeads: 2, headDim: 4, queryOffset: 17, scale: 0.5), false),
            (AttentionShape(batch: 1, queryLength: 6, keyLength: 6, queryHeads: 2, kvHeads: 1, headDim: 4, causal: false, scale: 0.5), false),
        ]
        for (shape, useSegments) in cases {
            let q = randn([shape.batch, shape.queryLength, shape.queryHeads, shape.headDim], seed: 13).floats
            let k = randn([shape.batch, shape.keyLength, shape.kvHeads, shape.headDim], seed: 14).floats
            let v = randn([shape.batch, shape.keyLength, shape.kvHeads, shape.headDim], seed: 15).floats
            let seg: [Int32]? = useSegments ? [0, 0, 1, 1, 1, 2, 2, 2, 2] : nil
            var out = [Float](repeating: 0, count: q.count), ref = out
            Kernels.attentionForward(q: q, k: k, v: v, out: &out, lse: nil, shape: shape, segments: seg)
            Kernels.attentionReference(q: q, k: k, v: v, out: &ref, shape: shape, segments: seg)
            assertClose(out, ref, rtol: 1e-4, atol: 1e-5, "\(shape)")
        }
    }

    func testAdamW() {
        let n = 1001
        let config = AdamWConfig(weightDecay: 0.1)
        var w = randn([n], seed: 16).floats, m = randn([n], seed: 17, std: 0.1).floats
        var v = randn([n], seed: 18).floats.map { $0 * $0 * 0.01 }
        var w2 = w, m2 = m, v2 = v
        let g = randn([n], seed: 19).floats
        Kernels.adamw(w: &w, g: g, m: &m, v: &v, n, lr: 1e-2, config: config, bc1: 0.271, bc2: 0.00299)
        Kernels.adamwReference(w: &w2, g: g, m: &m2, v: &v2, n, lr: 1e-2, config: config, bc1: 0.271, bc2: 0.00299)
        assertClose(w, w2, rtol: 1e-5, atol: 1e-6)
        assertClose(m, m2, rtol: 1e-5, atol: 1e-7)
        assertClose(v, v2, rtol: 1e-5, atol: 1e-8)
    }

    func testWidenNarrowRoundTrip() {
        let x = randn([1000], seed: 20, std: 10)
        for dtype in [DType.bf16, .f16] {
            let back = x.narrowed(to: dtype).widened().floats
            let rel: Float = dtype == .bf16 ? 1.0 / 256 : 1.0 / 2048
            assertClose(back, x.floats, rtol: rel, atol: 1e-6, "\(dtype)")
        }
        // bf16 rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 → 1.
        let tie = try! Tensor(shape: [2], values: [1 + 1.0 / 256, 1 + 3.0 / 256]).narrowed(to: .bf16).widened().floats
        XCTAssertEqual(tie, [1, 1 + 4.0 / 256])
    }
}
