// The bf16 product (CKernels' lk_gemm_bf16 through BLAS.gemm with computeDType .bf16) against
// its twins: exactly the f32 product where every input is a bf16 number and every sum is
// exact in f32; within f32 summation error of gemmBF16Reference (inputs rounded the kernel's
// way, sums in Double) on random inputs, and measurably farther from the unrounded f32
// product; the same floats on one thread or two. Shapes cross the kernel's tile (8 × 48) and
// block (96 rows, 768 k, 3072 columns) edges, and narrow ones (17 × 9, 300 × 16) go through the
// transposed product. Skipped where the CPU has no AVX512_BF16.
import XCTest
@testable import TensorCore
import TestSupport

final class BF16GemmTests: XCTestCase {
    override func setUpWithError() throws {
        guard ComputeDType.bf16.isSupported else { throw XCTSkip("this CPU has no AVX512_BF16") }
    }

    /// op(A) and op(B) in their stored layout with leading dimensions wider than needed.
    struct Case {
        let ta: Bool, tb: Bool, m: Int, n: Int, k: Int
        var lda: Int { (ta ? m : k) + 3 }
        var ldb: Int { (tb ? k : n) + 5 }
        var ldc: Int { n + 2 }
        var aCount: Int { (ta ? k : m) * lda }
        var bCount: Int { (tb ? n : k) * ldb }
    }

    func bf16Product(_ c: Case, alpha: Float, beta: Float, a: [Float], b: [Float], into out: inout [Float]) {
        BLAS.withComputeDType(.bf16) {
            BLAS.gemm(transA: c.ta, transB: c.tb, m: c.m, n: c.n, k: c.k, alpha: alpha, a: a, lda: c.lda, b: b, ldb: c.ldb,
                      beta: beta, c: &out, ldc: c.ldc)
        }
    }

    func testExactWhereInputsAreBF16Numbers() {
        // Small multiples of 1/4: bf16 numbers whose products and sums (< 2^13 · 1/16) are exact in f32.
        func grid(_ count: Int, seed: UInt64) -> [Float] {
            var g = SeededGenerator(seed: seed)
            return (0..<count).map { _ in Float(Int(g.next() % 33) - 16) / 4 }
        }
        let shapes = [(1, 1, 1), (7, 47, 3), (8, 48, 2), (9, 49, 767), (97, 50, 769), (20, 3100, 33), (17, 9, 1601), (300, 16, 40)]
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            for (m, n, k) in shapes {
                let c = Case(ta: ta, tb: tb, m: m, n: n, k: k)
                let a = grid(c.aCount, seed: 1), b = grid(c.bCount, seed: 2)
                let start = grid(m * c.ldc, seed: 3)
                var got = start, want = start
                bf16Product(c, alpha: 0.5, beta: 0.25, a: a, b: b, into: &got)
                BLAS.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: c.lda, b: b, ldb: c.ldb,
                                   beta: 0.25, c: &want, ldc: c.ldc)
                XCTAssertEqual(got, want, "ta=\(ta) tb=\(tb) \(m)×\(n)×\(k)")
            }
        }
    }

    func testRandomInputsMatchTheRoundedTwin() {
        for (ta, tb) in [(false, true), (false, false), (true, false)] {
            for (m, n, k) in [(33, 65, 129), (100, 97, 800)] {
                let c = Case(ta: ta, tb: tb, m: m, n: n, k: k)
                let a = randn([c.aCount], seed: 4).floats, b = randn([c.bCount], seed: 5).floats
                var got = [Float](repeating: 0, count: m * c.ldc), twin = got, f32 = got
                bf16Product(c, alpha: 1, beta: 0, a: a, b: b, into: &got)
                BLAS.gemmBF16Reference(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: c.lda, b: b, ldb: c.ldb, c: &twin, ldc: c.ldc)
                BLAS.gemmReference(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: c.lda, b: b, ldb: c.ldb, c: &f32, ldc: c.ldc)
                var toTwin: Float = 0, toF32: Float = 0
                for i in 0..<m {
                    for j in 0..<n {
                        toTwin = max(toTwin, abs(got[i * c.ldc + j] - twin[i * c.ldc + j]))
                        toF32 = max(toF32, abs(got[i * c.ldc + j] - f32[i * c.ldc + j]))
                    }
                }
                // f32 sums of k unit-variance products: error ~ √k · 2⁻²⁴ · √k; bf16 inputs: ~ √k · 2⁻⁸.
                let label = "ta=\(ta) tb=\(tb) \(m)×\(n)×\(k)"
                XCTAssertLessThan(toTwin, 2e-6 * Float(k), label)
                XCTAssertGreaterThan(toF32, 50 * toTwin, label)
                XCTAssertLessThan(toF32, 0.02 * Float(k).squareRoot(), label)
            }
        }
    }

    func testBetaZeroNeverReadsC() {
        let c = Case(ta: false, tb: true, m: 10, n: 50, k: 20)
        let a = randn([c.aCount], seed: 6).floats, b = randn([c.bCount], seed: 7).floats
        var got = [Float](repeating: .nan, count: c.m * c.ldc)
        bf16Product(c, alpha: 1, beta: 0, a: a, b: b, into: &got)
        for i in 0..<c.m { XCTAssertFalse(got[(i * c.ldc)..<(i * c.ldc + c.n)].contains { $0.isNaN }, "row \(i)") }
        XCTAssertTrue(got[c.n].isNaN, "the padding past n is not written")
    }

    func testDenormalInputsCountAsZero() {
        // 1e-39 is an f32 denormal: rounded to bf16 it flushes to zero, as the twin says.
        let c = Case(ta: false, tb: true, m: 1, n: 1, k: 2)
        let a: [Float] = [1e-39, 0, 0, 0, 0], b: [Float] = [1e30, 0, 0, 0, 0, 0, 0]
        var got: [Float] = [7, 7, 7], twin: [Float] = [7, 7, 7]
        bf16Product(c, alpha: 1, beta: 0, a: a, b: b, into: &got)
        BLAS.gemmBF16Reference(transA: false, transB: true, m: 1, n: 1, k: 2, a: a, lda: c.lda, b: b, ldb: c.ldb, c: &twin, ldc: c.ldc)
        XCTAssertEqual(got[0], 0)
        XCTAssertEqual(twin[0], 0)
    }

    func testBandsOverThreadsGiveTheSameFloats() {
        let c = Case(ta: false, tb: true, m: 300, n: 200, k: 900)  // m·n·k ≥ 2²¹: split into bands
        let a = randn([c.aCount], seed: 8).floats, b = randn([c.bCount], seed: 9).floats
        let before = Parallel.threadCount
        defer { Parallel.threadCount = before }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.threadCount = threads
            var out = [Float](repeating: 0, count: c.m * c.ldc)
            bf16Product(c, alpha: 1, beta: 0, a: a, b: b, into: &out)
            results.append(out)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }
}

final class BF16RoundingTests: XCTestCase {
    func testRoundingToBF16() {
        XCTAssertEqual(ComputeDType.bf16Rounded(1 + 0x1p-8), 1)               // a tie goes to even
        XCTAssertEqual(ComputeDType.bf16Rounded(1 + 3 * 0x1p-8), 1 + 0x1p-6)   // a tie goes to even, upwards
        XCTAssertEqual(ComputeDType.bf16Rounded(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7)
        XCTAssertEqual(ComputeDType.bf16Rounded(-3.140625), -3.140625)
        XCTAssertEqual(ComputeDType.bf16Rounded(Float.greatestFiniteMagnitude), .infinity)
        XCTAssertEqual(ComputeDType.bf16Rounded(1e-40).bitPattern, Float(0).bitPattern)
        XCTAssertEqual(ComputeDType.bf16Rounded(-1e-40).bitPattern, Float(-0.0).bitPattern)
        XCTAssertTrue(ComputeDType.bf16Rounded(.nan).isNaN)
    }
}
