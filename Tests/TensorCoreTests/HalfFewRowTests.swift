// Linear products of a few rows on bf16/f16 weights (a half-precision model's head while
// decoding) read the weights in place, widening them in registers: in every kernel variant
// the widened weights' product bit for bit, for rows with and without a tail and for odd
// output counts.
import XCTest
@testable import TensorCore
import TestSupport

final class HalfFewRowTests: XCTestCase {
    func testHalfWeightsMultiplyLikeTheirWidenedCopy() throws {
        for (outF, inF) in [(33, 576), (8, 37), (5, 24)] {
            let w32 = randn([outF, inF], seed: UInt64(outF))
            for dtype in [DType.bf16, .f16] {
                let half = w32.narrowed(to: dtype)
                let widened = half.widened()
                let wf = widened.floats
                XCTAssertEqual(half.dtype, dtype)
                try forEachSIMDLevel { level in
                    for rows in [1, 3, BLAS.fewRows] {
                        let x = randn([rows, inF], seed: UInt64(rows))
                        let xf = x.floats
                        let tape = Tape(recordsGradients: false)
                        let got = tape.value(try tape.linear(tape.input(x), weight: tape.input(half))).floats
                        let want = tape.value(try tape.linear(tape.input(x), weight: tape.input(widened))).floats
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(dtype) [\(rows), \(inF)]·[\(outF), \(inF)]ᵀ \(level)")
                        for i in 0..<rows {
                            for j in 0..<outF {
                                var reference = 0.0
                                for k in 0..<inF { reference += Double(xf[i * inF + k]) * Double(wf[j * inF + k]) }
                                XCTAssertEqual(Double(got[i * outF + j]), reference, accuracy: 1e-4 * max(1, abs(reference)))
                            }
                        }
                    }
                }
            }
        }
    }
}
