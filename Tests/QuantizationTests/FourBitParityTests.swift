// NF4/FP4 parity with bitsandbytes: codes, absmax (both levels), offset and dequantized
// values compared bit for bit with fixtures from scripts/make_bnb_fixtures.py (bnb 0.50 on
// CPU), through both the fast kernels and the reference twins.
import Foundation
import XCTest
import TensorCore
@testable import Quantization

/// A minimal safetensors reader for the bnb fixtures (F32, F16, BF16, U8 tensors).
struct BnbFixture {
    let data: Data
    let header: [String: Any]
    let dataStart: Int

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/bnb")

    init(_ name: String) throws {
        data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
        let n = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        dataStart = 8 + n
    }

    var metadata: [String: String] { header["__metadata__"] as? [String: String] ?? [:] }

    func entry(_ name: String) throws -> (dtype: String, shape: [Int], bytes: Data) {
        guard let e = header[name] as? [String: Any] else { throw XCTSkip("fixture tensor \(name) missing") }
        let off = e["data_offsets"] as! [Int]
        return (e["dtype"] as! String, e["shape"] as! [Int], data.subdata(in: (dataStart + off[0])..<(dataStart + off[1])))
    }

    func bytes(_ name: String) throws -> [UInt8] { [UInt8](try entry(name).bytes) }

    /// Float32 values (F32 as stored; F16/BF16 widened exactly).
    func floats(_ name: String) throws -> [Float] {
        let e = try entry(name)
        return e.bytes.withUnsafeBytes { p in
            switch e.dtype {
            case "F32": (0..<(p.count / 4)).map { p.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
            case "F16": (0..<(p.count / 2)).map { Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            default: (0..<(p.count / 2)).map { Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
            }
        }
    }

    /// The tensor as a Lorikeet Tensor in its stored dtype.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let e = try entry(name)
        let dtype: DType = e.dtype == "F32" ? .f32 : e.dtype == "F16" ? .f16 : .bf16
        var t = Tensor(uninitialized: shape, dtype: dtype)
        t.withUnsafeMutableBytes { dst in _ = e.bytes.copyBytes(to: dst.bindMemory(to: UInt8.self)) }
        return t
    }
}

/// Bitwise equality of Float arrays (so -0.0 ≠ +0.0 and NaN == NaN of the same payload).
func assertBitwiseEqual(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "\(what): count", file: file, line: line)
    for i in 0..<min(a.count, b.count) where a[i].bitPattern != b[i].bitPattern {
        XCTFail("\(what): element \(i): \(a[i]) (\(String(a[i].bitPattern, radix: 16))) vs \(b[i]) (\(String(b[i].bitPattern, radix: 16)))",
                file: file, line: line)
        return
    }
}

final class FourBitParityTests: XCTestCase {
    struct Case: Decodable {
        let name, matrix, type, dtype: String
        let blockSize, rows, cols: Int
        let doubleQuant: Bool
    }

    func cases(_ fx: BnbFixture) throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(fx.metadata["cases"]!.utf8))
    }

    func check(_ m: FourBitMatrix, _ c: Case, _ fx: BnbFixture, _ label: String) throws {
        let p = "\(c.name)."
        XCTAssertEqual(m.codes, try fx.bytes(p + "codes"), "\(label) \(c.name) codes")
        switch m.absmax {
        case let .plain(a):
            XCTAssertFalse(c.doubleQuant)
            assertBitwiseEqual(a, try fx.floats(p + "absmax"), "\(label) \(c.name) absmax")
        case let .doubleQuantized(d):
            XCTAssertTrue(c.doubleQuant)
            XCTAssertEqual(d.codes, try fx.bytes(p + "absmax_codes"), "\(label) \(c.name) absmax codes")
            assertBitwiseEqual(d.absmax2, try fx.floats(p + "absmax2"), "\(label) \(c.name) absmax2")
            assertBitwiseEqual([d.offset], try fx.floats(p + "offset"), "\(label) \(c.name) offset")
            assertBitwiseEqual(d.dequantized(), try fx.floats(p + "absmax_dequantized"), "\(label) \(c.name) absmax dequantized")
        }
        assertBitwiseEqual(m.dequantized().floats, try fx.floats(p + "dequantized"), "\(label) \(c.name) dequantized")
    }

    func testFastKernelsMatchBitsandbytes() throws {
        let fx = try BnbFixture("fourbit.safetensors")
        let all = try cases(fx)
        XCTAssertEqual(all.count, 64)
        for c in all {
            let input = try fx.tensor("\(c.matrix).input", shape: [c.rows, c.cols])
            XCTAssertEqual(input.dtype.rawValue, c.dtype.replacingOccurrences(of: "float32", with: "f32")
                .replacingOccurrences(of: "bfloat16", with: "bf16").replacingOccurrences(of: "float16", with: "f16"))
            let m = try FourBitMatrix(quantizing: input, type: FourBitType(rawValue: c.type)!,
                                      blockSize: c.blockSize, doubleQuant: c.doubleQuant)
            try check(m, c, fx, "fast")
        }
    }

    func testReferenceTwinsMatchBitsandbytes() throws {
        let fx = try BnbFixture("fourbit.safetensors")
        for c in try cases(fx) {
            let x = try fx.floats("\(c.matrix).input")
            let type = FourBitType(rawValue: c.type)!
            let m = try FourBitReference.matrix(x, rows: c.rows, cols: c.cols, type: type,
                                                blockSize: c.blockSize, doubleQuant: c.doubleQuant)
            try check(m, c, fx, "reference")
            let plain = FourBitReference.dequantize(m.codes, absmax: m.absmax.values, count: x.count,
                                                    type: type, blockSize: c.blockSize)
            assertBitwiseEqual(plain, try fx.floats("\(c.name).dequantized"), "reference dequantize \(c.name)")
        }
    }

    func testQuantMapsMatchBitsandbytes() throws {
        let fx = try BnbFixture("fourbit.safetensors")
        for type in FourBitType.allCases {
            assertBitwiseEqual(type.quantMap, try fx.floats("quant_map.\(type.rawValue)"), "\(type) quant map")
        }
        // The dequantizer's table differs from the serialized one only in FP4's signed zero.
        XCTAssertEqual(FourBitType.fp4.dequantTable[8].bitPattern, (-Float(0)).bitPattern)
        XCTAssertEqual(FourBitType.fp4.decision.order, [11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3])
    }

    func testFixtureCoversEdgeCases() throws {
        let fx = try BnbFixture("fourbit.safetensors")
        // an all-zero block keeps absmax 0 and NF4 code 7 (0x77 bytes); the zero run starts at 256
        let zeroAbsmax = try fx.floats("m_zero.nf4.bs64.plain.absmax")
        XCTAssertEqual(zeroAbsmax[4], 0)
        XCTAssertEqual(try fx.bytes("m_zero.nf4.bs64.plain.codes")[128..<160].allSatisfy { $0 == 0x77 }, true)
        // a short, all-non-zero tail block stores its clamped absmax; odd counts pad the last byte
        XCTAssertEqual(try fx.bytes("m_odd.nf4.bs64.plain.codes").count, 32)
    }
}
