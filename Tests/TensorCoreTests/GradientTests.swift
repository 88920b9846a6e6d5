// Finite-difference checks of every differentiable op's backward rule, on random inputs
// of several shapes including odd sizes. Tolerances are explained in GradientCheck.
import XCTest
@testable import TensorCore
import TestSupport

final class GradientTests: XCTestCase {
    let gc = GradientCheck()

    func testLinearWithBias() throws {
        for (n, i, o) in [(3, 5, 7), (1, 8, 4), (6, 17, 9)] {
            try gc.check([randn([n, i], seed: 1), randn([o, i], seed: 2), randn([o], seed: 3)]) { t, v in
                try t.linear(v[0], weight: v[1], bias: v[2])
            }
        }
    }

    func testLinearRank3Input() throws {
        try gc.check([randn([2, 3, 5], seed: 4), randn([4, 5], seed: 5)]) { t, v in try t.linear(v[0], weight: v[1]) }
    }

    func testLoRALinearWithAndWithoutDropout() throws {
        for p: Float in [0, 0.25] {
            // x [3, 5], W [4, 5], bias [4], A [2, 5], B [4, 2]
            try gc.check([randn([3, 5], seed: 46), randn([4, 5], seed: 47), randn([4], seed: 48), randn([2, 5], seed: 49),
                          randn([4, 2], seed: 50)]) { t, v in
                try t.loraLinear(v[0], weight: v[1], bias: v[2], a: v[3], b: v[4], scale: 1.5, dropout: p, seed: 9)
            }
        }
    }

    func testEmbedding() throws {
        try gc.check([randn([7, 5], seed: 6)]) { t, v in try t.embedding(v[0], ids: [3, 0, 3, 6, 1]) }
    }

    func testRMSNorm() throws {
        for (rows, dim) in [(3, 5), (4, 16), (2, 33)] {
            try gc.check([randn([rows, dim], seed: 8), randn([dim], seed: 9)]) { t, v in try t.rmsnorm(v[0], weight: v[1], eps: 1e-5) }
        }
        try gc.check([randn([3, 7], seed: 10)]) { t, v in try t.rmsnorm(v[0], weight: nil, eps: 1e-6) }
    }

    func testRopeBothLayouts() throws {
        for layout in [RopeLayout.halfSplit, .interleaved] {
            for hd in [4, 20] {
                let table = RopeTable(inverseFrequencies: RopeTable.defaultInverseFrequencies(headDim: hd, base: 10_000), maxPositions: 64)
                try gc.check([randn([2, 3, 2, hd], seed: 11)]) { t, v in
                    try t.rope(v[0], positions: [0, 1, 2, 5, 9, 40], table: table, layout: layout)
                }
            }
        }
    }

    func testColumnsOfAFusedProjection() throws {
        // Three slices of one [3, 2, 9] value, as Phi-3 splits qkv_proj: each gradient lands in its own columns.
        try gc.check([randn([3, 2, 9], seed: 51)]) { t, v in
            let q = try t.columns(v[0], 0..<4), k = try t.columns(v[0], 4..<6), w = try t.columns(v[0], 6..<9)
            return try t.add(try t.add(t.sum(try t.mul(q, q)), t.scale(t.sum(k), by: 3)), t.sum(try t.mul(w, w)))
        }
        try gc.check([randn([4, 6], seed: 52)]) { t, v in try t.columns(v[0], 2..<5) }
    }

    func testPartialScaledRope() throws {
        // Phi-4-mini's shape of rotary: the first 12 of 20 values rotate, cos/sin scaled by 1.19 (LongRoPE).
        for layout in [RopeLayout.halfSplit, .interleaved] {
            let table = RopeTable(inverseFrequencies: RopeTable.defaultInverseFrequencies(headDim: 12, base: 10_000), maxPositions: 64,
                                  scale: 1.19)
            try gc.check([randn([2, 3, 2, 20], seed: 12)]) { t, v in
                try t.rope(v[0], positions: [0, 1, 2, 5, 9, 40], table: table, layout: layout)
            }
        }
    }

    func testAttentionCausalGQA() throws {
        // B=2, T=5, Hq=4, Hkv=2, hd=3 (odd sizes everywhere).
        try gc.check([randn([2, 5, 4, 3], seed: 12), randn([2, 5, 2, 3], seed: 13), randn([2, 5, 2, 3], seed: 14)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2])
        }
    }

    func testAttentionAcrossQueryBlocks() throws {
        // T = 131 crosses the 128-row query block boundary.
        var g = GradientCheck(); g.maxElements = 25
        try g.check([randn([1, 131, 2, 4], seed: 15), randn([1, 131, 1, 4], seed: 16), randn([1, 131, 1, 4], seed: 17)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2])
        }
    }

    func testAttentionWithSegmentsAndNonCausal() throws {
        let seg: [Int32] = [0, 0, 0, 1, 1, 1, 1, 2]
        try gc.check([randn([1, 8, 2, 4], seed: 18), randn([1, 8, 2, 4], seed: 19), randn([1, 8, 2, 4], seed: 20)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], segments: seg)
        }
        try gc.check([randn([1, 6, 2, 4], seed: 21), randn([1, 6, 1, 4], seed: 22), randn([1, 6, 1, 4], seed: 23)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], causal: false)
        }
    }

    func testPackedAttentionEqualsEachSegmentAlone() throws {
        // A padding-free row: four examples back to back, one of a single token, across the
        // 128- and 256-row block boundaries. Blocks skip the keys before their first row's
        // segment; output and gradients must equal attention over each example on its own.
        let runs = [0..<70, 70..<200, 200..<201, 201..<300]
        let (t, hq, hkv, hd) = (300, 4, 2, 8)
        var seg = [Int32](repeating: 0, count: t)
        for (s, r) in runs.enumerated() { for i in r { seg[i] = Int32(s) } }
        let q = randn([1, t, hq, hd], seed: 70).floats, k = randn([1, t, hkv, hd], seed: 71).floats
        let v = randn([1, t, hkv, hd], seed: 72).floats, r = randn([1, t, hq, hd], seed: 73).floats
        func run(_ rows: Range<Int>, segments: [Int32]?) throws -> (out: [Float], dq: [Float], dk: [Float], dv: [Float]) {
            func part(_ x: [Float], _ heads: Int) throws -> Tensor {
                try Tensor(shape: [1, rows.count, heads, hd], values: Array(x[(rows.lowerBound * heads * hd)..<(rows.upperBound * heads * hd)]))
            }
            let tape = Tape()
            let (qv, kv, vv) = (tape.input(try part(q, hq), requiresGrad: true), tape.input(try part(k, hkv), requiresGrad: true),
                                tape.input(try part(v, hkv), requiresGrad: true))
            let out = try tape.attention(q: qv, k: kv, v: vv, segments: segments, scale: 0.4)
            let values = tape.value(out).floats  // backward frees the values it no longer needs
            try tape.backward(tape.sum(try tape.mul(out, tape.input(try part(r, hq)))))
            return (values, tape.gradient(qv)!.floats, tape.gradient(kv)!.floats, tape.gradient(vv)!.floats)
        }
        let packed = try run(0..<t, segments: seg)
        XCTAssertEqual([packed.out.count, packed.dq.count, packed.dk.count, packed.dv.count], [q.count, q.count, k.count, k.count])
        for rows in runs {
            let alone = try run(rows, segments: nil)
            let (qs, ks) = ((rows.lowerBound * hq * hd)..<(rows.upperBound * hq * hd), (rows.lowerBound * hkv * hd)..<(rows.upperBound * hkv * hd))
            assertClose(Array(packed.out[qs]), alone.out, rtol: 1e-5, atol: 1e-6, "out \(rows)")
            assertClose(Array(packed.dq[qs]), alone.dq, rtol: 1e-4, atol: 1e-5, "dq \(rows)")
            assertClose(Array(packed.dk[ks]), alone.dk, rtol: 1e-4, atol: 1e-5, "dk \(rows)")
            assertClose(Array(packed.dv[ks]), alone.dv, rtol: 1e-4, atol: 1e-5, "dv \(rows)")
        }
        // Segment ids that go back down (not contiguous runs) are masked without skipping.
        let stripes = (0..<t).map { Int32(($0 / 7) % 2) }
        var expected = [Float](repeating: 0, count: q.count)
        let shape = AttentionShape(batch: 1, queryLength: t, keyLength: t, queryHeads: hq, kvHeads: hkv, headDim: hd, scale: 0.4)
        Kernels.attentionReference(q: q, k: k, v: v, out: &expected, shape: shape, segments: stripes)
        let tape = Tape(recordsGradients: false)
        let out = try tape.attention(q: tape.input(try Tensor(shape: [1, t, hq, hd], values: q)), k: tape.input(try Tensor(shape: [1, t, hkv, hd], values: k)),
                                     v: tape.input(try Tensor(shape: [1, t, hkv, hd], values: v)), segments: stripes, scale: 0.4)
        assertClose(tape.value(out).floats, expected, rtol: 1e-4, atol: 1e-5)
    }

    func testAttentionWithMoreKeysThanQueries() throws {
        // The KV-cache case: 3 new queries attend to 7 keys (4 cached + 3 new).
        try gc.check([randn([1, 3, 2, 4], seed: 40), randn([1, 7, 1, 4], seed: 41), randn([1, 7, 1, 4], seed: 42)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2])
        }
    }

    func testAttentionSlidingWindowAndScale() throws {
        // Window 3 with packed segments, with a KV-cache offset, across the 128-row block boundary.
        let seg: [Int32] = [0, 0, 0, 0, 0, 1, 1, 1, 1]
        try gc.check([randn([1, 9, 2, 4], seed: 43), randn([1, 9, 1, 4], seed: 44), randn([1, 9, 1, 4], seed: 45)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], segments: seg, scale: 0.3, window: 3)
        }
        try gc.check([randn([1, 3, 2, 4], seed: 46), randn([1, 7, 1, 4], seed: 47), randn([1, 7, 1, 4], seed: 48)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], window: 2)
        }
        var g = GradientCheck(); g.maxElements = 25
        try g.check([randn([1, 131, 2, 4], seed: 49), randn([1, 131, 1, 4], seed: 50), randn([1, 131, 1, 4], seed: 51)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], window: 5)
        }
    }

    func testAttentionSoftcapAndLogitSoftcap() throws {
        // Cap 0.7 bends scores of size ~1 for real; with a window, segments and across query blocks.
        let seg: [Int32] = [0, 0, 0, 0, 0, 1, 1, 1, 1]
        try gc.check([randn([1, 9, 2, 4], seed: 56), randn([1, 9, 1, 4], seed: 57), randn([1, 9, 1, 4], seed: 58)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], segments: seg, scale: 0.8, window: 3, softcap: 0.7)
        }
        var g = GradientCheck(); g.maxElements = 25
        try g.check([randn([1, 131, 2, 4], seed: 59), randn([1, 131, 1, 4], seed: 60), randn([1, 131, 1, 4], seed: 61)]) { t, v in
            try t.attention(q: v[0], k: v[1], v: v[2], softcap: 1.5)
        }
        try gc.check([randn([3, 7], seed: 62, std: 3)]) { t, v in try t.softcap(v[0], cap: 2) }
    }

    func testOffsetRMSNorm() throws {
        try gc.check([randn([4, 6], seed: 52), randn([6], seed: 53, std: 0.3)]) { t, v in
            try t.rmsnorm(v[0], weight: v[1], eps: 1e-6, weightOffset: 1)
        }
    }

    func testGeGLU() throws {
        try gc.check([randn([3, 11], seed: 54, std: 2), randn([3, 11], seed: 55)]) { t, v in try t.geglu(gate: v[0], up: v[1]) }
    }

    func testSwiGLUAndSiLU() throws {
        try gc.check([randn([3, 11], seed: 24, std: 2), randn([3, 11], seed: 25)]) { t, v in try t.swiglu(gate: v[0], up: v[1]) }
        try gc.check([randn([37], seed: 26, std: 2)]) { t, v in t.silu(v[0]) }
    }

    func testElementwise() throws {
        try gc.check([randn([4, 5], seed: 27), randn([4, 5], seed: 28)]) { t, v in try t.add(v[0], v[1]) }
        try gc.check([randn([4, 5], seed: 29), randn([4, 5], seed: 30)]) { t, v in try t.mul(v[0], v[1]) }
        try gc.check([randn([9], seed: 31)]) { t, v in t.scale(v[0], by: -2.5) }
        try gc.check([randn([2, 6], seed: 32)]) { t, v in try t.reshape(v[0], [3, 4]) }
        try gc.check([randn([2, 6], seed: 33)]) { t, v in t.sum(v[0]) }
        try gc.check([randn([2, 7], seed: 34)]) { t, v in t.mean(v[0]) }
    }

    func testDropout() throws {
        try gc.check([randn([5, 13], seed: 35)]) { t, v in try t.dropout(v[0], p: 0.3, seed: 99) }
    }

    func testCrossEntropyWithIgnoreIndex() throws {
        try gc.check([randn([5, 11], seed: 36, std: 2)]) { t, v in
            try t.crossEntropy(v[0], targets: [3, -100, 0, 10, 7])
        }
        try gc.check([randn([2, 3, 7], seed: 37)]) { t, v in
            try t.crossEntropy(v[0], targets: [1, 2, 3, -100, -100, 6], normalizer: 10)
        }
    }

    func testLinearCrossEntropyChunked() throws {
        // 7 rows, 2 ignored, chunks of 2 rows: gradients for h and W.
        try gc.check([randn([7, 5], seed: 51), randn([11, 5], seed: 52)]) { t, v in
            try t.linearCrossEntropy(v[0], weight: v[1], targets: [3, -100, 0, 10, 7, -100, 2], chunkRows: 2)
        }
    }

    func testLinearCrossEntropyEqualsLinearThenCrossEntropy() throws {
        let h = randn([9, 6], seed: 53), w = randn([13, 6], seed: 54)
        let targets: [Int32] = [1, 2, -100, 4, 12, 0, -100, 7, 7]
        let fused = Tape(), plain = Tape()
        let fh = fused.input(h, requiresGrad: true), fw = fused.input(w, requiresGrad: true)
        let ph = plain.input(h, requiresGrad: true), pw = plain.input(w, requiresGrad: true)
        let lf = try fused.linearCrossEntropy(fh, weight: fw, targets: targets, normalizer: 3, chunkRows: 4)
        let lp = try plain.crossEntropy(try plain.linear(ph, weight: pw), targets: targets, normalizer: 3)
        XCTAssertEqual(fused.value(lf).scalar, plain.value(lp).scalar, accuracy: 1e-5)
        try fused.backward(lf)
        try plain.backward(lp)
        assertClose(fused.gradient(fh)!.floats, plain.gradient(ph)!.floats, rtol: 1e-5, atol: 1e-6)
        assertClose(fused.gradient(fw)!.floats, plain.gradient(pw)!.floats, rtol: 1e-5, atol: 1e-6)
    }

    func testCheckpointMatchesPlainBackward() throws {
        let w = Parameter(name: "w", value: randn([6, 6], seed: 38))
        let body: CheckpointBody = { t, v in
            let h = try t.linear(v[0], weight: t.parameter(w))
            return try t.swiglu(gate: h, up: try t.rmsnorm(h, weight: nil, eps: 1e-5))
        }
        let x = randn([3, 6], seed: 39)
        var grads: [[Float]] = []
        var wgrads: [[Float]] = []
        for useCheckpoint in [false, true] {
            w.zeroGrad()
            let tape = Tape()
            let xv = tape.input(x, requiresGrad: true)
            let y = useCheckpoint ? try tape.checkpoint([xv], body) : try body(tape, [xv])
            try tape.backward(tape.sum(y))
            grads.append(tape.gradient(xv)!.floats)
            wgrads.append(w.grad!.floats)
        }
        XCTAssertEqual(grads[0], grads[1])
        XCTAssertEqual(wgrads[0], wgrads[1])
        // And the checkpointed path against finite differences.
        try gc.check([x]) { t, v in try t.checkpoint(v, body) }
    }
}
