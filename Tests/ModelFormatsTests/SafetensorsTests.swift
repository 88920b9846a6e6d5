// safetensors: reading a file written by the Python library, writing and reading back,
// the writer's header layout, tensors produced while writing, sharded and single-file folders.
import Foundation
import XCTest
import TensorCore
@testable import ModelFormats

final class SafetensorsTests: XCTestCase {
    func testReadsFileWrittenByPythonLibrary() throws {
        let f = try SafetensorsFile(path: Fixtures.dir.appendingPathComponent("python_written.safetensors").path)
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.dir.appendingPathComponent("python_written.json"))) as! [String: Any]
        let values = json["values"] as! [String: [Double]]
        let shapes = json["shapes"] as! [String: [Int]]
        XCTAssertEqual(f.metadata, json["metadata"] as! [String: String])
        XCTAssertEqual(Set(f.names), Set(values.keys))
        for (name, expected) in values {
            let t = try f.tensor(name)
            XCTAssertEqual(t.shape, shapes[name], name)
            XCTAssertEqual(t.floats, expected.map { Float($0) }, name)
        }
        XCTAssertEqual(f.info("bf16")?.dtype, .bf16)
        XCTAssertEqual(f.info("flags")?.dtype, .bool)
        XCTAssertEqual(f.info("i64")?.dtype, .i64)
        XCTAssertTrue(try f.tensor("f32").isMapped, "aligned f32 data is a zero-copy view")
        XCTAssertThrowsError(try f.tensor("nope"))
    }

    func testWriteThenRead() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("out.safetensors")
        let a = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [3], values: [0.5, -1, 7]).narrowed(to: .bf16)
        let c = try Tensor(shape: [1, 2], values: [1.5, -2]).narrowed(to: .f16)
        var bytes = Tensor(zeros: [3], dtype: .u8)
        bytes.withUnsafeMutableBytes { $0[0] = 1; $0[1] = 2; $0[2] = 255 }
        let meta = ["format": "pt", "quote\"and\\slash": "line\nbreak é"]
        try SafetensorsWriter.write([("z.u8", bytes), ("a.f32", a), ("b.bf16", b), ("c.f16", c)], metadata: meta, to: url)
        let f = try SafetensorsFile(path: url.path)
        XCTAssertEqual(f.metadata, meta)
        XCTAssertEqual(f.names, ["a.f32", "b.bf16", "c.f16", "z.u8"], "largest dtype first, then by name")
        XCTAssertEqual(try f.tensor("a.f32").floats, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try f.tensor("b.bf16").floats, [0.5, -1, 7])
        XCTAssertEqual(try f.tensor("c.f16").shape, [1, 2])
        XCTAssertEqual(try f.tensor("c.f16").floats, [1.5, -2])
        XCTAssertEqual(try f.tensor("z.u8").floats, [1, 2, 255])

        // Header: 8-byte length, JSON padded with spaces to a multiple of 8.
        let raw = try [UInt8](Data(contentsOf: url))
        let n = raw.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: raw[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{"))
        XCTAssertTrue(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".tmp"), "no temp file left")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.safetensors"])
        // scripts/check_written_formats.py reads these back with the Python libraries.
        if let keep = ProcessInfo.processInfo.environment["LORIKEET_KEEP_FORMAT_OUTPUTS"] {
            try? FileManager.default.copyItem(at: url, to: URL(fileURLWithPath: keep).appendingPathComponent("swift_written.safetensors"))
        }
    }

    func testWriterRejectsDuplicatesAndReservedNames() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("x.safetensors")
        let t = Tensor(zeros: [2])
        assertFormatError(try SafetensorsWriter.write([("a", t), ("a", t)], to: url), "duplicate") {
            if case .duplicateName = $0 { true } else { false }
        }
        assertFormatError(try SafetensorsWriter.write([("__metadata__", t)], to: url), "reserved") {
            if case .invalidTensor = $0 { true } else { false }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "nothing left behind")
    }

    func testProducedTensorsAreWrittenOneAtATimeInFileOrder() throws {
        let dir = try makeTemporaryDirectory(self)
        let tensors: [(String, Tensor)] = [("w.b", try Tensor(shape: [2, 2], values: [1, 2, 3, 4])),
                                            ("n.h", try Tensor(shape: [3], values: [0.5, -1, 7]).narrowed(to: .bf16)),
                                            ("w.a", try Tensor(shape: [1, 3], values: [9, 8, 7]))]
        let eager = dir.appendingPathComponent("eager.safetensors"), lazy = dir.appendingPathComponent("lazy.safetensors")
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: eager)
        var asked: [String] = []
        let lookup = Dictionary(uniqueKeysWithValues: tensors)
        try SafetensorsWriter.write(tensors.map { ($0.0, $0.1.dtype, $0.1.shape) }, metadata: ["format": "pt"], to: lazy) { name in
            asked.append(name)
            return lookup[name]!
        }
        XCTAssertEqual(asked, ["w.a", "w.b", "n.h"], "file order: f32 before bf16, then by name")
        XCTAssertEqual(try Data(contentsOf: lazy), try Data(contentsOf: eager))

        // A produced tensor that does not match its header entry fails and leaves no file.
        let bad = dir.appendingPathComponent("bad.safetensors")
        assertFormatError(try SafetensorsWriter.write([("x", DType.f32, [2])], to: bad) { _ in Tensor(zeros: [3]) }, "mismatch") {
            if case let .invalidTensor(_, tensor, reason) = $0 { tensor == "x" && reason.contains("[3]") } else { false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad.path))
    }

    func testShardedFolder() throws {
        let dir = try makeTemporaryDirectory(self)
        let w1 = try Tensor(shape: [2], values: [1, 2]), w2 = try Tensor(shape: [1], values: [3])
        try SafetensorsWriter.write([("model.a", w1)], metadata: ["format": "pt"],
                                    to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafetensorsWriter.write([("model.b", w2)], to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata":{"total_size":12},"weight_map":{"model.a":"model-00001-of-00002.safetensors","model.b":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let folder = try SafetensorsFolder(url: dir)
        XCTAssertEqual(folder.names, ["model.a", "model.b"])
        XCTAssertEqual(try folder.tensor("model.b").floats, [3])
        XCTAssertEqual(folder.info("model.a")?.shape, [2])
        XCTAssertEqual(folder.metadata, ["format": "pt"])
        XCTAssertThrowsError(try folder.tensor("model.c"))

        // An index naming a tensor its shard lacks, or a path outside the folder, throws.
        try Data(#"{"weight_map":{"model.x":"model-00001-of-00002.safetensors"}}"#.utf8)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        assertFormatError(try SafetensorsFolder(url: dir), "missing tensor") {
            if case let .tensorNotFound(_, t) = $0 { t == "model.x" } else { false }
        }
        try Data(#"{"weight_map":{"model.a":"../elsewhere.safetensors"}}"#.utf8)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        assertFormatError(try SafetensorsFolder(url: dir), "path traversal") {
            if case .invalidHeader = $0 { true } else { false }
        }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        assertFormatError(try SafetensorsFolder(url: dir), "bad index") {
            if case .invalidHeader = $0 { true } else { false }
        }
    }

    func testSingleFileFolder() throws {
        let dir = try makeTemporaryDirectory(self)
        assertFormatError(try SafetensorsFolder(url: dir), "empty folder") {
            if case .io = $0 { true } else { false }
        }
        try SafetensorsWriter.write([("w", Tensor(repeating: 2, shape: [2, 2]))], to: dir.appendingPathComponent("model.safetensors"))
        let folder = try SafetensorsFolder(url: dir)
        XCTAssertEqual(folder.names, ["w"])
        XCTAssertEqual(try folder.tensor("w").floats, [2, 2, 2, 2])
    }
}
