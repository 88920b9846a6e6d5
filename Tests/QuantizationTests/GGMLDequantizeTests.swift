// Dequantization checks: the fast kernels against gguf-py's values (fixtures from
// scripts/make_ggml_fixtures.py), the plain reference twins against the same values, and
// fast against reference on random blocks, whole buffers and row ranges; the fast kernels in
// every SIMD variant this machine can run.
import Foundation
import XCTest
import TensorCore
import TestSupport
@testable import Quantization

final class GGMLDequantizeTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// (raw blocks, gguf-py's dequantized floats) for a type.
    func fixture(_ type: GGMLType) throws -> ([UInt8], [Float]) {
        let raw = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("\(type.name).blocks")))
        let f = try Data(contentsOf: Self.fixtures.appendingPathComponent("\(type.name).f32"))
        let values = f.withUnsafeBytes { p in (0..<(f.count / 4)).map { p.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        return (raw, values)
    }

    /// Fast and reference dequantization of `raw` (count elements).
    func decode(_ type: GGMLType, _ raw: [UInt8], count: Int) throws -> (fast: [Float], reference: [Float]) {
        var fast = [Float](repeating: .nan, count: count), ref = [Float](repeating: .nan, count: count)
        try raw.withUnsafeBytes { src in
            try fast.withUnsafeMutableBufferPointer { try type.dequantize(src, count: count, into: $0.baseAddress!) }
            try ref.withUnsafeMutableBufferPointer { try type.dequantizeReference(src, count: count, into: $0.baseAddress!) }
        }
        return (fast, ref)
    }

    /// Values may differ from numpy by the order of a multiply-add: a few ulps of the block scale.
    func assertClose(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-6)
        for i in 0..<min(a.count, b.count) where abs(a[i] - b[i]) > 1e-6 * scale + 1e-12 {
            XCTFail("\(what): element \(i): \(a[i]) vs \(b[i])", file: file, line: line)
            return
        }
    }

    func testAgainstGGUFPy() throws {
        try forEachSIMDLevel { level in
            for type in GGMLType.dequantizable.sorted(by: { $0.rawValue < $1.rawValue }) {
                let (raw, expected) = try fixture(type)
                XCTAssertEqual(type.byteCount(elements: expected.count), raw.count, "\(type) fixture size")
                let (fast, ref) = try decode(type, raw, count: expected.count)
                assertClose(fast, expected, "\(type) fast vs gguf-py (\(level))")
                assertClose(ref, expected, "\(type) reference vs gguf-py")
            }
        }
    }

    func testFastMatchesReferenceOnRandomBlocks() throws {
        try forEachSIMDLevel { level in
            var rng = SystemRandomNumberGenerator()
            for type in GGMLType.dequantizable {
                // Enough blocks to cross the parallel threshold, so the split path runs too.
                let count = type.blockSize == 1 ? 70_000 : type.blockSize * 300
                var raw = (0..<type.byteCount(elements: count)!).map { _ in UInt8.random(in: 0...255, using: &rng) }
                sanitizeScales(type, &raw)
                let (fast, ref) = try decode(type, raw, count: count)
                for i in 0..<count where !(fast[i] == ref[i] || (fast[i].isNaN && ref[i].isNaN)
                                           || abs(fast[i] - ref[i]) <= 1e-6 * max(abs(ref[i]), 1e-3)) {
                    XCTFail("\(type) element \(i): fast \(fast[i]) vs reference \(ref[i]) (\(level))")
                    break
                }
            }
        }
    }

    /// Dequantizing is multiplies and adds in a fixed order, so every SIMD variant must give
    /// the same bits whatever the scales are. NaNs compare as NaN: which operand's payload a
    /// NaN result carries depends on the operand order the compiler chose, and IEEE 754 leaves it open.
    func testSIMDVariantsAgreeBitForBit() throws {
        var rng = SystemRandomNumberGenerator()
        for type in GGMLType.dequantizable {
            let count = type.blockSize == 1 ? 70_001 : type.blockSize * 301
            let raw = (0..<type.byteCount(elements: count)!).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var results: [(SIMDLevel, [UInt32])] = []
            try forEachSIMDLevel { level in
                var out = [Float](repeating: 0, count: count)
                try raw.withUnsafeBytes { src in
                    try out.withUnsafeMutableBufferPointer { try type.dequantize(src, count: count, into: $0.baseAddress!) }
                }
                results.append((level, out.map { $0.isNaN ? Float.nan.bitPattern : $0.bitPattern }))
            }
            for (level, bits) in results.dropFirst() {
                XCTAssertTrue(bits == results[0].1, "\(type): \(level) differs from \(results[0].0)")
            }
        }
    }

    /// Random bytes can decode to inf/NaN scales; reference and fast agree on those too, but
    /// finite scales make the comparison meaningful.
    func sanitizeScales(_ type: GGMLType, _ raw: inout [UInt8]) {
        let fields: [Int]
        switch type {
        case .q4_0, .q5_0, .q8_0: fields = [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: fields = [0, 2]
        case .q2_K: fields = [80, 82]
        case .q3_K: fields = [108]
        case .q6_K: fields = [208]
        default: fields = []
        }
        let n = raw.count / type.bytesPerBlock
        for b in 0..<n {
            for f in fields {
                let h = Float16(Float.random(in: -0.05...0.05)).bitPattern
                raw[b * type.bytesPerBlock + f] = UInt8(h & 0xFF)
                raw[b * type.bytesPerBlock + f + 1] = UInt8(h >> 8)
            }
        }
    }

    func testRowRangeMatchesWholeBuffer() throws {
        let (raw, expected) = try fixture(.q4_K)        // 3 blocks of 256: make 3 rows of 256
        var out = [Float](repeating: 0, count: 256 * 2)
        try raw.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer {
                try GGMLType.q4_K.dequantize(src, rowLength: 256, rows: 1..<3, into: $0.baseAddress!)
            }
        }
        assertClose(out, Array(expected[256..<768]), "rows 1..<3")
        let t = try GGMLTensor(type: .q4_K, shape: [3, 256], data: raw)
        XCTAssertEqual(t.rowCount, 3)
        assertClose(try t.dequantized().floats, expected, "GGMLTensor.dequantized")
        var one = [Float](repeating: 0, count: 256)
        try one.withUnsafeMutableBufferPointer { try t.dequantize(rows: 2..<3, into: $0.baseAddress!) }
        assertClose(one, Array(expected[512...]), "GGMLTensor row 2")
    }

    func testBadInputThrows() throws {
        let raw = [UInt8](repeating: 0, count: 34)
        var out = [Float](repeating: 0, count: 64)
        try raw.withUnsafeBytes { src in
            try out.withUnsafeMutableBufferPointer { dst in
                XCTAssertThrowsError(try GGMLType.q8_0.dequantize(src, count: 33, into: dst.baseAddress!)) {
                    XCTAssertEqual($0 as? QuantizationError, .notWholeBlocks(.q8_0, elements: 33))
                }
                XCTAssertThrowsError(try GGMLType.q8_0.dequantize(src, count: 64, into: dst.baseAddress!)) {
                    XCTAssertEqual($0 as? QuantizationError, .bufferTooSmall(.q8_0, needed: 68, available: 34))
                }
                XCTAssertThrowsError(try GGMLType.iq2_XXS.dequantize(src, count: 0, into: dst.baseAddress!))
                XCTAssertThrowsError(try GGMLType.q8_0.dequantize(src, rowLength: 32, rows: 0..<2, into: dst.baseAddress!))
                XCTAssertThrowsError(try GGMLType.q8_0.dequantize(src, rowLength: 32, rows: (Int.max / 2)..<(Int.max / 2 + 1), into: dst.baseAddress!))
            }
        }
        XCTAssertThrowsError(try GGMLTensor(type: .q4_0, shape: [2, 31], data: raw))
        XCTAssertThrowsError(try GGMLTensor(type: .q8_0, shape: [2, 32], data: raw))
        XCTAssertThrowsError(try GGMLTensor(type: .q8_0, shape: [Int.max, 64], data: raw))
    }

    func testTypeTable() {
        // Sizes from ggml-common.h (static_asserts there).
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22),
            .q5_1: (32, 24), .q8_0: (32, 34), .q8_1: (32, 36), .q2_K: (256, 84), .q3_K: (256, 110),
            .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210), .q8_K: (256, 292),
            .iq4_NL: (32, 18), .iq4_XS: (256, 136), .tq2_0: (256, 66), .mxfp4: (32, 17),
        ]
        for (t, (bs, bytes)) in expected {
            XCTAssertEqual(t.blockSize, bs, "\(t)")
            XCTAssertEqual(t.bytesPerBlock, bytes, "\(t)")
        }
        XCTAssertEqual(GGMLType(rawValue: 12), .q4_K)
        XCTAssertEqual(GGMLType(rawValue: 30), .bf16)
        XCTAssertNil(GGMLType(rawValue: 31))
        XCTAssertNil(GGMLType.q4_0.byteCount(elements: 33))
        XCTAssertNil(GGMLType.f32.byteCount(elements: Int.max))
    }

    func testHalfConversionTwins() {
        for bits in UInt16.min...UInt16.max {
            let a = Half.float(bits), b = Half.floatReference(bits)
            if a.isNaN { XCTAssertTrue(b.isNaN); continue }
            XCTAssertEqual(a.bitPattern, b.bitPattern, "f16 \(bits)")
        }
        for _ in 0..<20_000 {
            let x = Float(bitPattern: UInt32.random(in: 0...UInt32.max))
            if x.isNaN { continue }
            XCTAssertEqual(Half.bits(x), Half.bitsReference(x), "f16 of \(x)")
        }
    }
}
