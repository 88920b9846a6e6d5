// GGUF writer and reader together: every metadata value type (nested arrays and string
// arrays included), F32/F16/raw tensors and every quantized type, shapes reversed to
// row-major, alignment.
import Foundation
import XCTest
import TensorCore
import Quantization
@testable import ModelFormats

final class GGUFRoundTripTests: XCTestCase {
    func testRoundTripAllValueTypesAndTensors() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("rt.gguf")
        var w = GGUFWriter()
        let values: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
            ("u64", .uint64(1 << 63)), ("i64", .int64(-(1 << 62))),
            ("f32", .float32(1.25)), ("f64", .float64(-2.5e300)), ("yes", .bool(true)), ("no", .bool(false)),
            ("empty", .string("")), ("unicode", .string("héllo ✓")),
            ("tokens", .strings(["<s>", "</s>", "héllo", ""])),
            ("ints", .array(elementType: .int32, values: [.int32(1), .int32(-2)])),
            ("nested", .array(elementType: .array, values: [
                .array(elementType: .float32, values: [.float32(1), .float32(2)]),
                .strings(["a"]),
                .array(elementType: .uint8, values: []),
            ])),
            ("no.elements", .array(elementType: .string, values: [])),
        ]
        for (k, v) in values { w.set(k, v) }
        let a = try Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let x = (0..<(4 * 64)).map { Float(sin(Double($0))) }
        let q = try Tensor(shape: [4, 64], values: x)
        let bias = try Tensor(shape: [5], values: [0.5, 1, 2, 3, 4])
        try w.add("a", a)
        try w.add("q8", q, as: .q8_0)
        try w.add("h", q, as: .f16)
        try w.add("bias", bias)
        try w.add("raw", raw: try GGMLTensor(type: .q8_0, shape: [1, 32],
                                             data: q.withUnsafeFloats { try GGMLType.q8_0.quantize(UnsafeBufferPointer(rebasing: $0[0..<32])) }))
        try w.write(to: url)

        let f = try GGUFFile(path: url.path)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.metadataKeys, values.map(\.0))
        for (k, v) in values { XCTAssertEqual(f.metadata[k], v, k) }
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(f["tokens"]?.strings, ["<s>", "</s>", "héllo", ""])
        XCTAssertEqual(f["u32"]?.int, 4_000_000_000)
        XCTAssertEqual(f["f32"]?.float, 1.25)
        XCTAssertEqual(f["ints"]?.ints, [1, -2])
        XCTAssertNil(f["u64"]?.int == 1 ? 1 : nil)

        XCTAssertEqual(f.tensorNames, ["a", "q8", "h", "bias", "raw"])
        XCTAssertEqual(f.info("a")?.shape, [3, 2])
        XCTAssertEqual(f.info("q8")?.type, .q8_0)
        for info in f.tensorInfos { XCTAssertEqual((info.offset - f.dataOffset) % 32, 0, info.name) }
        let ta = try f.tensor(named: "a")
        XCTAssertTrue(ta.isMapped, "F32 is zero-copy")
        XCTAssertEqual(ta.floats, a.floats)
        XCTAssertEqual(try f.tensor(named: "bias").floats, bias.floats)
        let tq = try f.tensor(named: "q8").floats
        for i in 0..<x.count { XCTAssertEqual(tq[i], x[i], accuracy: 1.0 / 127 * 0.51 + 1e-4) }
        let th = try f.tensor(named: "h").floats
        for i in 0..<x.count { XCTAssertEqual(th[i], x[i], accuracy: 1e-3) }
        XCTAssertEqual(try f.tensor(named: "raw").floats, Array(tq[0..<32]))
        let raw = try f.rawTensor(named: "q8")
        XCTAssertEqual(raw.type, .q8_0)
        XCTAssertEqual(raw.shape, [4, 64])
        XCTAssertEqual(raw.bytes.count, 4 * 2 * 34)
        assertFormatError(try f.tensor(named: "missing"), "missing tensor") {
            if case let .tensorNotFound(_, t) = $0 { t == "missing" } else { false }
        }
        // scripts/check_written_formats.py reads this back with gguf-py.
        if let keep = ProcessInfo.processInfo.environment["LORIKEET_KEEP_FORMAT_OUTPUTS"] {
            try? FileManager.default.copyItem(at: url, to: URL(fileURLWithPath: keep).appendingPathComponent("swift_written.gguf"))
        }
    }

    func testEveryQuantizedTypeStoresGGMLBytes() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("types.gguf")
        let x: [Float] = (0..<(3 * 512)).map { i in
            let wave = Float(sin(Double(i) * 0.37))
            return wave * Float(i % 7 + 1) * 0.1
        }
        let t = try Tensor(shape: [3, 512], values: x)
        let types = GGMLType.quantizable.sorted { $0.rawValue < $1.rawValue }
        var w = GGUFWriter()
        for type in types { try w.add(type.name, t, as: type) }
        try w.write(to: url)
        let f = try GGUFFile(path: url.path)
        for type in types {
            let raw = try f.rawTensor(named: type.name)
            XCTAssertEqual(raw.type, type)
            XCTAssertEqual(raw.shape, [3, 512])
            XCTAssertEqual(Array(raw.bytes), try x.withUnsafeBufferPointer { try type.quantize($0) }, type.name)
            let back = try f.tensor(named: type.name).floats
            let err = zip(x, back).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(err, 0.1, type.name)
        }
    }

    func testCustomAlignmentAndWriterErrors() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("al.gguf")
        var w = GGUFWriter(alignment: 64)
        try w.add("a", try Tensor(shape: [3], values: [1, 2, 3]))
        try w.add("b", try Tensor(shape: [2], values: [4, 5]))
        assertFormatError(try w.add("a", Tensor(zeros: [1])), "duplicate") {
            if case .duplicateName = $0 { true } else { false }
        }
        assertFormatError(try w.add("q", Tensor(zeros: [2, 30]), as: .q8_0), "not whole Q8_0 blocks") {
            if case .invalidShape = $0 { true } else { false }
        }
        assertFormatError(try w.add("q2", Tensor(zeros: [256]), as: .q2_K), "unsupported encoding") {
            if case let .invalidTensor(_, t, _) = $0 { t == "q2" } else { false }
        }
        assertFormatError(try w.add("k", Tensor(zeros: [8, 32]), as: .q4_K), "not whole Q4_K super-blocks") {
            if case let .invalidShape(_, t, reason) = $0 { t == "k" && reason.contains("256") } else { false }
        }
        try w.write(to: url)
        let f = try GGUFFile(path: url.path)
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f["general.alignment"], .uint32(64))
        XCTAssertEqual(f.dataOffset % 64, 0)
        XCTAssertEqual(f.info("b")!.offset - f.info("a")!.offset, 64)
        XCTAssertEqual(try f.tensor(named: "b").floats, [4, 5])

        var bad = GGUFWriter()
        bad.set("mixed", .array(elementType: .int32, values: [.int32(1), .string("x")]))
        assertFormatError(try bad.write(to: dir.appendingPathComponent("bad.gguf")), "mixed array") {
            if case .invalidHeader = $0 { true } else { false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.gguf").path))
        var misaligned = GGUFWriter()
        misaligned.set("general.alignment", .uint32(64))
        assertFormatError(try misaligned.write(to: dir.appendingPathComponent("al2.gguf")), "alignment key != writer") {
            if case .invalidHeader = $0 { true } else { false }
        }
        var q = GGUFWriter()
        var nan = Tensor(zeros: [32])
        nan.withUnsafeMutableFloats { $0[3] = .nan }
        try q.add("nan", nan, as: .q8_0)
        assertFormatError(try q.write(to: dir.appendingPathComponent("nan.gguf")), "NaN to Q8_0") {
            if case let .invalidTensor(_, t, _) = $0 { t == "nan" } else { false }
        }
    }

    func testReadsVersion2() throws {
        let dir = try makeTemporaryDirectory(self)
        var b = Bytes.ggufHeader(version: 2, tensors: 1, kvs: 1)
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.tensorInfo("t", dims: [2], type: 0, offset: 0)
        b.pad(to: 32)
        b.f32(1); b.f32(2)
        let url = dir.appendingPathComponent("v2.gguf")
        try b.write(to: url)
        let f = try GGUFFile(path: url.path)
        XCTAssertEqual(f.version, 2)
        XCTAssertEqual(try f.tensor(named: "t").floats, [1, 2])
    }
}
