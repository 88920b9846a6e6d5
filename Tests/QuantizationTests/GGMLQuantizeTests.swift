// GGML quantization: every quantizable type byte for byte against ggml's reference quantizers
// (fixtures from scripts/make_quant_fixtures.py; the fast path in every SIMD variant), fast
// against the reference twin on random inputs, the errors (partial blocks, NaN, unsupported
// types), and round trips through the dequantizers that land close to the input.
import Foundation
import XCTest
import TensorCore
import TestSupport
@testable import Quantization

final class GGMLQuantizeTests: XCTestCase {
    static let fixtures = GGMLDequantizeTests.fixtures.appendingPathComponent("quant")

    /// fixtures.json: the inputs (with a label per block) and which bytes ggml wrote for them.
    struct Manifest: Decodable {
        struct Input: Decodable { let file: String; let count: Int; let blocks: [String] }
        struct Output: Decodable { let type: String; let input: String; let file: String }
        let inputs: [String: Input]
        let outputs: [Output]
    }

    func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("fixtures.json")))
    }

    func floats(_ file: String, in dir: URL = GGMLQuantizeTests.fixtures) throws -> [Float] {
        let d = try Data(contentsOf: dir.appendingPathComponent(file))
        return d.withUnsafeBytes { p in (0..<(d.count / 4)).map { p.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }

    static func type(named name: String) -> GGMLType? { GGMLType.allCases.first { $0.name == name } }

    /// Fails at the first block whose bytes differ, naming it and the largest byte difference.
    func assertSameBlocks(_ got: [UInt8], _ expected: [UInt8], _ type: GGMLType, labels: [String], elements: Int,
                          _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, expected.count, what, file: file, line: line)
        let size = type.bytesPerBlock
        for b in 0..<(min(got.count, expected.count) / size) {
            let r = (b * size)..<(b * size + size)
            guard got[r] != expected[r] else { continue }
            let worst = zip(got[r], expected[r]).map { abs(Int($0) - Int($1)) }.max()!
            let label = labels.count > 1 ? labels[b * type.blockSize * labels.count / elements] : ""
            XCTFail("\(what): block \(b) (\(label)) differs, max byte difference \(worst): \(Array(got[r])) vs \(Array(expected[r]))",
                    file: file, line: line)
            return
        }
    }

    func testEveryTypeMatchesGGMLByteForByte() throws {
        let m = try manifest()
        XCTAssertEqual(Set(m.outputs.map(\.type)), Set(GGMLType.quantizable.map(\.name)), "a fixture for every type")
        var first = true
        try forEachSIMDLevel { level in
            for o in m.outputs {
                let type = try XCTUnwrap(Self.type(named: o.type), o.type)
                let input = try XCTUnwrap(m.inputs[o.input], o.input)
                let x = try floats(input.file)
                XCTAssertEqual(x.count, input.count)
                let expected = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent(o.file)))
                let fast = try x.withUnsafeBufferPointer { try type.quantize($0) }
                assertSameBlocks(fast, expected, type, labels: input.blocks, elements: x.count, "\(o.type) \(o.input) (\(level))")
                if first {
                    assertSameBlocks(type.quantizeReference(x), expected, type, labels: input.blocks, elements: x.count,
                                     "\(o.type) \(o.input) reference")
                }
            }
            first = false
        }
    }

    /// Random inputs of several shapes: per-block scales from 1e-3 to 10, sprinkled zeros and
    /// outliers, one-signed blocks, constant, tiny and ties-rich blocks, and blocks whose
    /// magnitudes span 1e-40 to 1e38 (overflowing f16 scales and x², underflowing to subnormals).
    static func randomInput(blocks: Int, blockSize: Int, seed: UInt64) -> [Float] {
        var g = SeededGenerator(seed: seed)
        var x: [Float] = []
        for b in 0..<blocks {
            let scale = Float(pow(10, 4 * g.nextFloat() - 3))
            var block = (0..<blockSize).map { _ in g.nextNormal() * scale }
            switch b % 9 {
            case 1: for i in stride(from: 0, to: blockSize, by: 5) { block[i] = 0 }
            case 2: block[Int(g.next() % UInt64(blockSize))] *= 100
            case 3: block = block.map { -abs($0) }
            case 4: block = block.map { abs($0) }
            case 5: block = [Float](repeating: scale, count: blockSize)
            case 6: block = block.map { $0 * 1e-30 }
            case 7: block = block.map { ($0 * 4).rounded() / 4 }
            case 8: block = block.map { $0 < 0 ? -1 : 1 }.map { $0 * Float(pow(10, 78 * g.nextFloat() - 40)) }
            default: break
            }
            x += block
        }
        return x
    }

    func testFastMatchesReferenceOnRandomInputs() throws {
        for type in GGMLType.quantizable.sorted(by: { $0.rawValue < $1.rawValue }) {
            // 300 k-quant super-blocks (or 2400 blocks of 32) are enough work to split across threads.
            let bs = type == .bf16 ? 32 : type.blockSize
            let x = Self.randomInput(blocks: 76_800 / bs, blockSize: bs, seed: UInt64(type.rawValue))
            let reference = type.quantizeReference(x)
            try forEachSIMDLevel { level in
                let fast = try x.withUnsafeBufferPointer { try type.quantize($0) }
                assertSameBlocks(fast, reference, type, labels: [], elements: x.count, "\(type) fast vs reference (\(level))")
            }
        }
    }

    func testErrors() {
        for type in GGMLType.quantizable where type.blockSize > 1 {
            let partial = [Float](repeating: 1, count: type.blockSize + 1)
            XCTAssertThrowsError(try partial.withUnsafeBufferPointer { try type.quantize($0) }, "\(type)") {
                XCTAssertEqual($0 as? QuantizationError, .notWholeBlocks(type, elements: type.blockSize + 1))
            }
            for (index, bad) in [(type.blockSize + 7, Float.nan), (2 * type.blockSize - 1, -Float.infinity)] {
                var x = [Float](repeating: 0.5, count: 3 * type.blockSize)
                x[index] = bad
                x[index + 3] = .nan                                      // only the first is named
                XCTAssertThrowsError(try x.withUnsafeBufferPointer { try type.quantize($0) }, "\(type) \(bad)") {
                    XCTAssertEqual($0 as? QuantizationError, .nonFiniteValue(index: index))
                }
            }
            XCTAssertEqual(try [Float]().withUnsafeBufferPointer { try type.quantize($0) }, [])
        }
        XCTAssertThrowsError(try [Float](repeating: 0, count: 256).withUnsafeBufferPointer { try GGMLType.q2_K.quantize($0) }) {
            XCTAssertEqual($0 as? QuantizationError, .unsupportedType(.q2_K, operation: "quantize"))
        }
        // Non-finite inputs are no error in a large parallel job either; the first one is named.
        var big = [Float](repeating: 1, count: 256 * 1024)
        big[200_001] = .infinity
        big[100_003] = .nan
        XCTAssertThrowsError(try big.withUnsafeBufferPointer { try GGMLType.q4_K.quantize($0) }) {
            XCTAssertEqual($0 as? QuantizationError, .nonFiniteValue(index: 100_003))
        }
    }

    func testBF16KeepsNaNAndInfinityAsGGML() throws {
        let bits: [UInt32] = [0x7FA1_2345, 0xFF80_0001, 0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x3F80_8000, 0x3F81_8000, 0x7F7F_FFFF]
        let want: [UInt16] = [0x7FE1, 0xFFC0, 0x7FC0, 0x7F80, 0xFF80, 0x3F80, 0x3F82, 0x7F80]
        let x = bits.map { Float(bitPattern: $0) }
        let q = try x.withUnsafeBufferPointer { try GGMLType.bf16.quantize($0) }
        let got = (0..<x.count).map { UInt16(q[2 * $0]) | UInt16(q[2 * $0 + 1]) << 8 }
        XCTAssertEqual(got, want)
        XCTAssertEqual(GGMLType.bf16.quantizeReference(x), q)
    }

    /// Quantize then dequantize: the relative RMS error stays within what the bit width allows.
    func testRoundTripIsClose() throws {
        // Measured on this input: BF16 0.0017, Q8_0 0.0054, Q6_K 0.018, Q5_* 0.036-0.043, Q4_* 0.072-0.087.
        let limits: [GGMLType: Double] = [.bf16: 0.003, .q8_0: 0.008, .q6_K: 0.025, .q5_0: 0.055, .q5_1: 0.055,
                                          .q5_K: 0.055, .q4_0: 0.11, .q4_1: 0.11, .q4_K: 0.11]
        XCTAssertEqual(Set(limits.keys), GGMLType.quantizable)
        var g = SeededGenerator(seed: 7)
        let n = 256 * 64
        let x = (0..<n).map { i in g.nextNormal() * Float(i / 256 % 5 + 1) * 0.02 }
        for (type, limit) in limits {
            let q = try x.withUnsafeBufferPointer { try type.quantize($0) }
            var back = [Float](repeating: .nan, count: n)
            try q.withUnsafeBytes { src in
                try back.withUnsafeMutableBufferPointer { try type.dequantize(src, count: n, into: $0.baseAddress!) }
            }
            let err = zip(x, back).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            let norm = x.reduce(0.0) { $0 + Double($1 * $1) }
            XCTAssertLessThan((err / norm).squareRoot(), limit, "\(type)")
        }
    }

    // Kept from before the general fixtures: gguf-py's Q8_0 bytes for halves and a zero block.
    func testQ8_0MatchesGGUFPy() throws {
        let dir = GGMLDequantizeTests.fixtures
        let x = try floats("Q8_0.quant_input.f32", in: dir)
        let expected = try [UInt8](Data(contentsOf: dir.appendingPathComponent("Q8_0.quant_output.blocks")))
        XCTAssertEqual(try x.withUnsafeBufferPointer { try GGMLType.q8_0.quantize($0) }, expected)
        XCTAssertEqual(GGMLType.q8_0.quantizeReference(x), expected)
    }
}
