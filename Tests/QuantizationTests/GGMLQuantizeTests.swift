// Q8_0 quantization: bit-exact against gguf-py (which matches ggml's quantize_row_q8_0_ref),
// fast against its reference twin on random data, and the round trip error bound.
import Foundation
import XCTest
@testable import Quantization

final class GGMLQuantizeTests: XCTestCase {
    func testQ8_0MatchesGGUFPy() throws {
        let dir = GGMLDequantizeTests.fixtures
        let input = try Data(contentsOf: dir.appendingPathComponent("Q8_0.quant_input.f32"))
        let expected = try [UInt8](Data(contentsOf: dir.appendingPathComponent("Q8_0.quant_output.blocks")))
        let x = input.withUnsafeBytes { p in (0..<(input.count / 4)).map { p.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        let q = try x.withUnsafeBufferPointer { try GGMLType.quantizeQ8_0($0) }
        XCTAssertEqual(q, expected)
        XCTAssertEqual(GGMLType.quantizeQ8_0Reference(x), expected)
    }

    func testQ8_0FastMatchesReferenceAndRoundTrips() throws {
        let n = 32 * 4096
        let x = (0..<n).map { i in Float.random(in: -1...1) * (i % 64 == 0 ? 10 : 1) }
        let fast = try x.withUnsafeBufferPointer { try GGMLType.quantizeQ8_0($0) }
        XCTAssertEqual(fast, GGMLType.quantizeQ8_0Reference(x))
        var back = [Float](repeating: 0, count: n)
        try fast.withUnsafeBytes { src in
            try back.withUnsafeMutableBufferPointer { try GGMLType.q8_0.dequantize(src, count: n, into: $0.baseAddress!) }
        }
        for b in 0..<(n / 32) {
            let amax = x[(32 * b)..<(32 * b + 32)].map { abs($0) }.max()!
            for i in (32 * b)..<(32 * b + 32) {
                XCTAssertLessThanOrEqual(abs(back[i] - x[i]), amax / 127 * 0.51 + amax * 1e-3, "element \(i)")
            }
        }
    }

    func testQ8_0RejectsBadInput() {
        XCTAssertThrowsError(try [Float](repeating: 1, count: 31).withUnsafeBufferPointer { try GGMLType.quantizeQ8_0($0) })
        var x = [Float](repeating: 1, count: 64)
        x[40] = .nan
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { try GGMLType.quantizeQ8_0($0) }) {
            XCTAssertEqual($0 as? QuantizationError, .nonFiniteValue(index: 40))
        }
    }
}
