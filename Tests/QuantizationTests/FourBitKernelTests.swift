// NF4/FP4 fast kernels against their reference twins on random matrices with awkward values
// (NaN, ±inf, zero and tiny blocks, huge outliers), awkward shapes (odd columns, blocks that
// span rows, short tail blocks) and every row range; plus input validation.
import Foundation
import XCTest
import TensorCore
@testable import Quantization

final class FourBitKernelTests: XCTestCase {
    /// Deterministic values: normal-ish with a sprinkling of specials.
    func values(_ n: Int, seed: UInt64, specials: Bool = true) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24)
        }
        var x = (0..<n).map { _ in (next() + next() + next() - 1.5) * 2 }
        guard specials, n >= 512 else { return x }
        for i in 64..<128 { x[i] = 0 }                          // a zero block (bs ≤ 64)
        for i in 128..<160 { x[i] *= 1e-30 }                    // tiny values
        x[200] = 3e4; x[300] = -Float.infinity; x[400] = .nan; x[401] = -0.0
        x[450] = 0.5                                            // exact tie candidates below
        return x
    }

    func testFastQuantizeMatchesReference() throws {
        for (rows, cols) in [(7, 37), (16, 64), (3, 1000), (33, 97)] {
            let x = values(rows * cols, seed: UInt64(rows * 1000 + cols))
            let t = try Tensor(shape: [rows, cols], values: x)
            for type in FourBitType.allCases {
                for bs in [32, 64, 128, 4096] {
                    for dq in [false, true] {
                        let fast = try FourBitMatrix(quantizing: t, type: type, blockSize: bs, doubleQuant: dq)
                        let ref = try FourBitReference.matrix(x, rows: rows, cols: cols, type: type, blockSize: bs, doubleQuant: dq)
                        let what = "\(type) \(rows)x\(cols) bs\(bs) dq=\(dq)"
                        XCTAssertEqual(fast.codes, ref.codes, what)
                        assertBitwiseEqual(fast.absmax.values, ref.absmax.values, what + " absmax")
                        assertBitwiseEqual(fast.dequantized().floats,
                                           FourBitReference.dequantize(ref.codes, absmax: ref.absmax.values, count: x.count,
                                                                       type: type, blockSize: bs), what + " dequantized")
                    }
                }
            }
        }
    }

    func testTiesGoToTheLowerCode() {
        for type in FourBitType.allCases {
            let (bounds, order) = type.decision
            for (i, b) in bounds.enumerated() {
                XCTAssertEqual(FourBitKernels.index(b, bounds), i, "\(type) bound \(i)")
                XCTAssertEqual(FourBitReference.bucketize(b, bounds), i)
                XCTAssertEqual(FourBitKernels.index(b.nextUp, bounds), i + 1)
            }
            XCTAssertEqual(FourBitKernels.index(.nan, bounds), 15)
            XCTAssertEqual(order.count, 16)
        }
    }

    func testEveryRowRangeMatchesWholeMatrix() throws {
        // 7 x 37 with blocks of 32: blocks span rows and rows start on odd elements.
        for (rows, cols, bs) in [(7, 37, 32), (5, 64, 128), (9, 33, 64)] {
            let x = values(rows * cols, seed: 42, specials: false)
            let t = try Tensor(shape: [rows, cols], values: x)
            for type in FourBitType.allCases {
                for dq in [false, true] {
                    let m = try FourBitMatrix(quantizing: t, type: type, blockSize: bs, doubleQuant: dq)
                    let whole = m.dequantized().floats
                    for r0 in 0...rows {
                        for r1 in r0...rows {
                            var out = [Float](repeating: .nan, count: (r1 - r0) * cols)
                            out.withUnsafeMutableBufferPointer { p in
                                if let b = p.baseAddress { m.dequantize(rows: r0..<r1, into: b) }
                            }
                            assertBitwiseEqual(out, Array(whole[(r0 * cols)..<(r1 * cols)]), "\(type) rows \(r0)..<\(r1)")
                        }
                    }
                }
            }
        }
    }

    func testLargeMatrixUsesParallelPathAndAgrees() throws {
        let (rows, cols) = (300, 333)                           // 99 900 elements, odd columns
        let x = values(rows * cols, seed: 7)
        let m = try FourBitMatrix(quantizing: try Tensor(shape: [rows, cols], values: x), type: .nf4, blockSize: 64, doubleQuant: true)
        let ref = try FourBitReference.matrix(x, rows: rows, cols: cols, type: .nf4, blockSize: 64, doubleQuant: true)
        XCTAssertTrue(m.codes == ref.codes, "codes")                 // (== on the whole value fails on the NaN offset)
        assertBitwiseEqual(m.absmax.values, ref.absmax.values, "absmax")
        var slab = [Float](repeating: 0, count: 101 * cols)
        slab.withUnsafeMutableBufferPointer { m.dequantize(rows: 57..<158, into: $0.baseAddress!) }
        assertBitwiseEqual(slab, Array(m.dequantized().floats[(57 * cols)..<(158 * cols)]), "slab")
    }

    func testHalfSourcesAreWidenedFirst() throws {
        let x = values(40 * 64, seed: 3, specials: false)
        let t = try Tensor(shape: [40, 64], values: x)
        for dtype in [DType.f16, .bf16] {
            let narrow = t.narrowed(to: dtype)
            let a = try FourBitMatrix(quantizing: narrow, type: .fp4)
            let b = try FourBitMatrix(quantizing: narrow.widened(), type: .fp4)
            XCTAssertEqual(a, b)
        }
    }

    func testValidationAndSizes() throws {
        let t = try Tensor(shape: [4, 64], values: values(256, seed: 1, specials: false))
        XCTAssertThrowsError(try FourBitMatrix(quantizing: t, type: .nf4, blockSize: 48)) {
            XCTAssertEqual($0 as? BlockQuantizationError, .invalidBlockSize(48, allowed: FourBitType.allowedBlockSizes))
        }
        XCTAssertThrowsError(try FourBitMatrix(quantizing: try t.reshaped([2, 2, 64]), type: .nf4))
        XCTAssertThrowsError(try FourBitMatrix(quantizing: Tensor(zeros: [2, 2], dtype: .i32), type: .nf4)) {
            XCTAssertEqual($0 as? BlockQuantizationError, .unsupportedDType(.i32))
        }
        let m = try FourBitMatrix(quantizing: t, type: .nf4)
        XCTAssertEqual(m.byteCount, 128 + 4 * 4)
        XCTAssertEqual(try FourBitMatrix(quantizing: t, type: .nf4, doubleQuant: true).byteCount, 128 + 4 + 4 + 4)
        XCTAssertThrowsError(try FourBitMatrix(type: .nf4, rows: 4, cols: 64, blockSize: 64, codes: m.codes, absmax: .plain([1, 2, 3])))
        XCTAssertThrowsError(try FourBitMatrix(type: .nf4, rows: 4, cols: 64, blockSize: 64, codes: [0], absmax: m.absmax))
        XCTAssertEqual(try FourBitMatrix(type: .nf4, rows: 4, cols: 64, blockSize: 64, codes: m.codes, absmax: m.absmax), m)
        XCTAssertEqual(m.quantMap.count, 16)
        XCTAssertEqual(BlockQuantizationError.invalidBlockSize(48, allowed: [64]).description, "block size 48 is not one of 64")
    }

    func testPackedTensorWidensToDequantized() throws {
        let t = try Tensor(shape: [6, 96], values: values(576, seed: 9, specials: false))
        let m = try FourBitMatrix(quantizing: t, type: .fp4, blockSize: 128, doubleQuant: true)
        let packed = Tensor(packed: m)
        XCTAssertEqual(packed.shape, [6, 96])
        XCTAssertEqual(packed.packed?.encoding, "FP4")
        XCTAssertEqual(packed.byteCount, m.byteCount)
        assertBitwiseEqual(packed.widened().floats, m.dequantized().floats, "packed widen")
    }
}
