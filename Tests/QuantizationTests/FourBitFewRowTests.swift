// The few-row product on NF4/FP4 codes (decoding on a QLoRA base without widening it): in every
// kernel variant this machine runs (the AVX-512 form included), the product of the widened
// rows bit for bit, a row's result the same whatever rows share the call and however the
// outputs are split among threads, and within a Double reference of the dequantized matrix.
import XCTest
import CKernels
import TensorCore
import TestSupport
@testable import Quantization

final class FourBitFewRowTests: XCTestCase {
    func testCodesMultiplyLikeTheirWidenedRowsInEveryVariant() throws {
        var g = SeededGenerator(seed: 7)
        // 160 columns: blocks of 64 and 256 span rows; 48: a row shorter than a block.
        for (outF, inF) in [(37, 160), (9, 576), (5, 48)] {
            var weights = (0..<(outF * inF)).map { _ in Float.random(in: -1...1, using: &g) }
            weights[3] = 40                                    // an outlier in the first block
            weights[inF + 5] = 0; weights[inF + 6] = -0.0
            let m = 7                                          // x in groups of four, then three
            let xs = (0..<(m * inF)).map { _ in Float.random(in: -2...2, using: &g) }
            let tensor = try Tensor(shape: [outF, inF], values: weights)
            for type in FourBitType.allCases {
                for blockSize in [32, 64, 256] {
                    for doubleQuant in [false, true] {
                        let q = try FourBitMatrix(quantizing: tensor, type: type, blockSize: blockSize, doubleQuant: doubleQuant)
                        let what = "\(type) \(outF)x\(inF) bs\(blockSize) dq=\(doubleQuant)"
                        XCTAssertTrue(q.hasFewRowProduct, what)
                        let dense = q.dequantized().floats
                        try forEachSIMDLevel { level in
                            let forms = level == .avx2 && lk_cpu_has_avx512_skx() != 0 ? [false, true] : [false]
                            for avx512 in forms {
                                try SIMDLevel.withAVX512Forms(avx512) {
                                    try check(q, dense: dense, xs: xs, m: m, "\(what) \(level) avx512=\(avx512)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func check(_ q: FourBitMatrix, dense: [Float], xs: [Float], m: Int, _ what: String) throws {
        let (outF, inF) = (q.rows, q.cols)
        var together = [Float](repeating: .nan, count: m * outF)
        var widened = [Float](repeating: .nan, count: m * outF)
        xs.withUnsafeBufferPointer { x in
            together.withUnsafeMutableBufferPointer { y in
                q.productFewRows(x.baseAddress!, m: m, ldx: inF, outputs: 0..<outF, into: y.baseAddress!, ldy: outF)
            }
            dense.withUnsafeBufferPointer { w in
                widened.withUnsafeMutableBufferPointer { y in
                    BLAS.gemmFewRows(m: m, n: outF, k: inF, a: x.baseAddress!, lda: inF, b: w.baseAddress!, c: y.baseAddress!, ldc: outF)
                }
            }
        }
        XCTAssertEqual(together.map(\.bitPattern), widened.map(\.bitPattern), "\(what): codes vs widened rows")
        for i in 0..<m {
            var alone = [Float](repeating: .nan, count: outF)
            let split = outF / 3 + 1                           // mid-block when blocks span rows
            xs.withUnsafeBufferPointer { x in
                alone.withUnsafeMutableBufferPointer { y in
                    q.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: 0..<split, into: y.baseAddress!, ldy: outF)
                    q.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: split..<outF, into: y.baseAddress!, ldy: outF)
                }
            }
            XCTAssertEqual(alone.map(\.bitPattern), together[(i * outF)..<((i + 1) * outF)].map(\.bitPattern),
                           "\(what) row \(i): alone, in two calls, vs among \(m)")
            for j in 0..<outF {
                var reference = 0.0
                for k in 0..<inF { reference += Double(xs[i * inF + k]) * Double(dense[j * inF + k]) }
                XCTAssertEqual(Double(alone[j]), reference, accuracy: 1e-5 * max(1, abs(reference)), "\(what) [\(i), \(j)]")
            }
        }
    }

    func testOnlyWholeGroupsOfSixteenColumnsMultiplyFromCodes() throws {
        let odd = try FourBitMatrix(quantizing: try Tensor(shape: [2, 40], values: (0..<80).map { Float($0) }), type: .nf4)
        XCTAssertFalse(odd.hasFewRowProduct, "40 columns: widened as before")
    }
}
