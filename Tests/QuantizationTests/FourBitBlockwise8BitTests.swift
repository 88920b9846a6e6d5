// 8-bit blockwise quantization and the pieces of double quantization, against bitsandbytes:
// the dynamic maps, quantize/dequantize_blockwise codes and values, and torch's Float32 mean
// (the double-quant offset); the fast kernels against their reference twins.
import Foundation
import XCTest
import TensorCore
@testable import Quantization

final class FourBitBlockwise8BitTests: XCTestCase {
    func testDynamicMapsMatchBitsandbytes() throws {
        let fx = try BnbFixture("blockwise8.safetensors")
        assertBitwiseEqual(DynamicCodebook.signed.values, try fx.floats("dynamic_map.signed"), "signed map")
        assertBitwiseEqual(DynamicCodebook.unsigned.values, try fx.floats("dynamic_map.unsigned"), "unsigned map")
    }

    func testBlockwiseMatchesBitsandbytes() throws {
        let fx = try BnbFixture("blockwise8.safetensors")
        for (name, book, bs) in [("signed", DynamicCodebook.signed, 256), ("unsigned", .unsigned, 256), ("signed64", .signed, 64)] {
            let x = try fx.floats("\(name).input")
            let q = try Blockwise8Bit(quantizing: x, codebook: book, blockSize: bs)
            XCTAssertEqual(q.codes, try fx.bytes("\(name).codes"), name)
            assertBitwiseEqual(q.absmax, try fx.floats("\(name).absmax"), "\(name) absmax")
            assertBitwiseEqual(q.dequantized(), try fx.floats("\(name).dequantized"), "\(name) dequantized")
            let ref = Blockwise8Bit.quantizeReference(x, codebook: book, blockSize: bs)
            XCTAssertEqual(ref.codes, q.codes, "\(name) reference codes")
            assertBitwiseEqual(Blockwise8Bit.dequantizeReference(codes: ref.codes, absmax: ref.absmax, codebook: book, blockSize: bs),
                               try fx.floats("\(name).dequantized"), "\(name) reference dequantized")
        }
    }

    func testTorchMeanMatchesTorch() throws {
        let fx = try BnbFixture("blockwise8.safetensors")
        let sizes = try JSONDecoder().decode([Int].self, from: Data(fx.metadata["sum_sizes"]!.utf8))
        XCTAssertFalse(sizes.isEmpty)
        for n in sizes {
            let x = try fx.floats("sum.\(n).input")
            let mean = x.withUnsafeBufferPointer { TorchSum.mean($0) }
            assertBitwiseEqual([mean], try fx.floats("sum.\(n).mean"), "mean of \(n)")
        }
        XCTAssertEqual(TorchSum.ceilLog2(1), 1)
        XCTAssertEqual(TorchSum.ceilLog2(17), 5)
    }

    func testFastMatchesReferenceWithSpecials() throws {
        var x = (0..<70_000).map { Float(sin(Double($0) * 0.37)) * Float(1 + $0 % 13) }
        for i in 512..<768 { x[i] = 0 }
        x[5] = .nan; x[1000] = .infinity; x[2000] = -.infinity; x[3000] = -0.0; x[4000] = Float.leastNormalMagnitude / 8
        for book in [DynamicCodebook.signed, .unsigned] {
            for bs in [64, 256, 1000] {
                let q = try Blockwise8Bit(quantizing: x, codebook: book, blockSize: bs)
                let ref = Blockwise8Bit.quantizeReference(x, codebook: book, blockSize: bs)
                XCTAssertEqual(q.codes, ref.codes, "bs \(bs)")
                assertBitwiseEqual(q.absmax, ref.absmax, "bs \(bs) absmax")
                assertBitwiseEqual(q.dequantized(), Blockwise8Bit.dequantizeReference(codes: q.codes, absmax: q.absmax,
                                                                                    codebook: book, blockSize: bs), "bs \(bs)")
            }
        }
    }

    func testValidation() throws {
        XCTAssertThrowsError(try Blockwise8Bit(quantizing: [1, 2], blockSize: 0))
        XCTAssertThrowsError(try Blockwise8Bit(codes: [1, 2, 3], absmax: [], blockSize: 2, codebook: .signed))
        XCTAssertThrowsError(try DynamicCodebook(values: [0, 1]))
        XCTAssertThrowsError(try DynamicCodebook(values: (0..<256).map { Float(255 - $0) / 255 }))
        XCTAssertEqual(try Blockwise8Bit(quantizing: []).dequantized(), [])
    }
}
