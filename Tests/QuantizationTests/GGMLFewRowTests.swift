// The few-row product on GGML blocks (decoding without widening the matrix): against its
// plain twin — dequantize, then a Double dot product — for Q4_0, Q4_1 and Q8_0, and a row's
// result unchanged by how many rows share the call (what batched serving relies on).
import XCTest
import TensorCore
@testable import Quantization

final class GGMLFewRowTests: XCTestCase {
    func testBlocksMultiplyLikeTheirDequantizedRowsWhateverTheRowCount() throws {
        var g = SeededGenerator(seed: 42)
        let (outF, inF) = (37, 160)
        let weights = (0..<(outF * inF)).map { _ in Float.random(in: -1...1, using: &g) }
        let xs = (0..<(6 * inF)).map { _ in Float.random(in: -2...2, using: &g) }
        for type in [GGMLType.q4_0, .q4_1, .q8_0] {
            let blocks = try weights.withUnsafeBufferPointer { try type.quantize($0) }
            let tensor = try GGMLTensor(type: type, shape: [outF, inF], data: blocks)
            XCTAssertTrue(tensor.hasFewRowProduct, "\(type)")
            var dense = [Float](repeating: 0, count: outF * inF)
            try dense.withUnsafeMutableBufferPointer { try tensor.dequantize(rows: 0..<outF, into: $0.baseAddress!) }
            var together = [Float](repeating: 0, count: 6 * outF)
            xs.withUnsafeBufferPointer { x in together.withUnsafeMutableBufferPointer { y in
                tensor.productFewRows(x.baseAddress!, m: 6, ldx: inF, outputs: 0..<outF, into: y.baseAddress!, ldy: outF)
            } }
            for i in 0..<6 {
                var alone = [Float](repeating: 0, count: outF)
                xs.withUnsafeBufferPointer { x in alone.withUnsafeMutableBufferPointer { y in
                    // Two calls over halves of the outputs, as threads split them.
                    tensor.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: 0..<20, into: y.baseAddress!, ldy: outF)
                    tensor.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: 20..<outF, into: y.baseAddress!, ldy: outF)
                } }
                XCTAssertEqual(alone, Array(together[(i * outF)..<((i + 1) * outF)]), "\(type) row \(i): alone vs among six")
                for j in 0..<outF {
                    var reference = 0.0
                    for k in 0..<inF { reference += Double(xs[i * inF + k]) * Double(dense[j * inF + k]) }
                    XCTAssertEqual(Double(alone[j]), reference, accuracy: 1e-5 * max(1, abs(reference)), "\(type) [\(i), \(j)]")
                }
            }
        }
    }
}
