// The integer products on GGML blocks with 8-bit activations (lk_rows_dot_q8x, what decoding
// uses by default): the activation rounding against its one-value-at-a-time twin, bit for
// bit, and every format's products against their plain twin — the dequantized weights times
// the rounded activations, summed in Double — in every SIMD variant the machine has, with a
// row's result the same however many rows share the call.
import XCTest
import TensorCore
import CKernels
@testable import Quantization

final class GGMLIntegerDotTests: XCTestCase {
    static let formats: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

    func testActivationBlocksMatchTheirTwinBitForBit() {
        var g = SeededGenerator(seed: 7)
        var x = (0..<(32 * 12)).map { _ in Float.random(in: -3...3, using: &g) }
        for i in 32..<64 { x[i] = 0 }                                   // an all-zero block: d = 0, q = 0
        for i in 64..<96 { x[i] = 0 }                                   // d = 1, and halves: ties round to even
        (x[64], x[65], x[66], x[67], x[68]) = (127, 0.5, 1.5, 2.5, -2.5)
        x[100] = 1e-30                                                  // a tiny value beside large ones
        let twin = GGMLReference.activationBlocks(x)
        for level in SIMDLevel.supported {
            let blocks = level.run { quantized(x) }
            XCTAssertEqual(blocks.count, twin.count)
            for (b, (block, expected)) in zip(blocks, twin).enumerated() {
                XCTAssertEqual(block.d.bitPattern, expected.d.bitPattern, "\(level) block \(b) d")
                XCTAssertEqual(block.s.bitPattern, expected.s.bitPattern, "\(level) block \(b) s")
                XCTAssertEqual(withUnsafeBytes(of: block.q) { Array($0.bindMemory(to: Int8.self)) }, expected.q, "\(level) block \(b) q")
            }
        }
        XCTAssertEqual(twin[1].d, 0)
        XCTAssertEqual(twin[2].d, 1)
        XCTAssertEqual(Array(twin[2].q.prefix(5)), [127, 0, 2, 2, -2])
    }

    func testEveryFormatMultipliesLikeItsDequantizedRowsTimesTheRoundedActivations() throws {
        var g = SeededGenerator(seed: 42)
        let (outF, inF, m) = (37, 512, 6)
        let weights = (0..<(outF * inF)).map { _ in Float.random(in: -1...1, using: &g) }
        let xs = (0..<(m * inF)).map { _ in Float.random(in: -2...2, using: &g) }
        let rounded = (0..<m).map { i in
            GGMLReference.activationBlocks(Array(xs[(i * inF)..<((i + 1) * inF)])).flatMap { b in b.q.map { Double(b.d) * Double($0) } }
        }
        for type in Self.formats {
            let blocks = try weights.withUnsafeBufferPointer { try type.quantize($0) }
            var tensor = try GGMLTensor(type: type, shape: [outF, inF], data: blocks)
            tensor.eightBitActivations = true
            XCTAssertTrue(tensor.hasFewRowProduct, "\(type)")
            var dense = [Float](repeating: 0, count: outF * inF)
            try dense.withUnsafeMutableBufferPointer { try tensor.dequantize(rows: 0..<outF, into: $0.baseAddress!) }
            var avx2Bits: [UInt32]?
            // Every variant, and at the avx2 level also the AVX512_VNNI form where the CPU has it.
            let variants = SIMDLevel.supported.flatMap { level in
                (level == .avx2 && lk_cpu_has_avx512_vnni() != 0 ? [false, true] : [false]).map { (level, $0) }
            }
            for (level, vnni) in variants {
                let run = { (body: () -> Void) in SIMDLevel.withAVX512Forms(vnni) { level.run(body) } }
                var together = [Float](repeating: 0, count: m * outF)
                run {
                    xs.withUnsafeBufferPointer { x in together.withUnsafeMutableBufferPointer { y in
                        tensor.productFewRows(x.baseAddress!, m: m, ldx: inF, outputs: 0..<outF, into: y.baseAddress!, ldy: outF)
                    } }
                }
                if level == .avx2 {
                    if let avx2Bits {
                        XCTAssertEqual(together.map(\.bitPattern), avx2Bits, "\(type): the VNNI form gives the AVX2 variant's bits")
                    } else {
                        avx2Bits = together.map(\.bitPattern)
                    }
                }
                for i in 0..<m {
                    var alone = [Float](repeating: 0, count: outF)
                    run {
                        xs.withUnsafeBufferPointer { x in alone.withUnsafeMutableBufferPointer { y in
                            tensor.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: 0..<20, into: y.baseAddress!, ldy: outF)
                            tensor.productFewRows(x.baseAddress! + i * inF, m: 1, ldx: inF, outputs: 20..<outF, into: y.baseAddress!, ldy: outF)
                        } }
                    }
                    XCTAssertEqual(alone, Array(together[(i * outF)..<((i + 1) * outF)]), "\(type) \(level) vnni=\(vnni) row \(i): alone vs among \(m)")
                    for j in 0..<outF {
                        var reference = 0.0, exact = 0.0, magnitude = 0.0
                        for k in 0..<inF {
                            let w = Double(dense[j * inF + k])
                            reference += w * rounded[i][k]
                            exact += w * Double(xs[i * inF + k])
                            magnitude += abs(w * Double(xs[i * inF + k]))
                        }
                        XCTAssertEqual(Double(alone[j]), reference, accuracy: 2e-6 * magnitude, "\(type) \(level) [\(i), \(j)]")
                        // Rounding each activation to 8 bits moves a product by well under 1 % of Σ|w·x|.
                        XCTAssertEqual(Double(alone[j]), exact, accuracy: 1e-2 * magnitude, "\(type) \(level) [\(i), \(j)] vs f32")
                    }
                }
            }
        }
    }

    func testFormatsWithoutAnIntegerKernelKeepTheirOwnProduct() throws {
        let q3 = try GGMLTensor(type: .q3_K, shape: [2, 256], data: [UInt8](repeating: 0, count: 2 * 110))
        var kept = q3
        kept.eightBitActivations = true
        XCTAssertFalse(kept.hasFewRowProduct)                      // widened slabs, as before
        var q8 = try GGMLTensor(type: .q8_0, shape: [1, 32], data: [UInt8](repeating: 0, count: 34))
        XCTAssertTrue(q8.hasFewRowProduct)
        q8.eightBitActivations = true
        XCTAssertTrue(q8.hasFewRowProduct)
    }

    private func quantized(_ x: [Float]) -> [lk_q8x_block] {
        var out = [lk_q8x_block](repeating: lk_q8x_block(), count: x.count / 32)
        x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBytes { lk_quantize_q8x(xp.baseAddress!, x.count, $0.baseAddress!) } }
        return out
    }
}
