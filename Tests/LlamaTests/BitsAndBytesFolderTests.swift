// 4-bit Hugging Face folders in bitsandbytes' serialization, against folders that transformers
// + bitsandbytes wrote from tiny_llama (scripts/make_bnb_folder_fixtures.py): we load theirs
// without re-quantizing (same codes as our quantizer, same logits as theirs), and what we
// write is theirs byte for byte.
import XCTest
import Foundation
import TensorCore
import Quantization
import ModelFormats
@testable import Llama

final class BitsAndBytesFolderTests: XCTestCase {
    static let variants: [(folder: String, type: FourBitType, double: Bool)] = [
        ("tiny_llama_bnb_nf4", .nf4, true), ("tiny_llama_bnb_fp4", .fp4, false),
    ]

    func temporaryFolder(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-\(name)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func quantizedTinyLlama(_ type: FourBitType, double: Bool) throws -> LlamaModel {
        try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_llama"), options: LoadOptions(
            linearQuantizer: { _, w in try FourBitMatrix(quantizing: w, type: type, blockSize: 64, doubleQuant: double) }))
    }

    func testLoadsTransformersFolderWithoutRequantizing() throws {
        for v in Self.variants {
            let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(v.folder))
            let ours = try quantizedTinyLlama(v.type, double: v.double)
            var fourBit = 0
            for (name, p) in model.parameters.sorted(by: { $0.key < $1.key }) {
                guard ModelLoader.isDecoderLinearWeight(name) else {
                    XCTAssertEqual(p.value.dtype, .f32, name)
                    continue
                }
                let m = try XCTUnwrap(p.value.packed as? FourBitMatrix, "\(v.folder) \(name) is not kept in 4 bits")
                XCTAssertEqual(m, ours.parameter(name).value.packed as? FourBitMatrix, "\(v.folder) \(name)")
                fourBit += 1
            }
            XCTAssertEqual(fourBit, 14)
            let ref = try Fixtures.tensors("\(v.folder)/reference.safetensors")
            for case let seq as [String: Any] in try Fixtures.json("tiny_llama/reference.json")["sequences"] as! [Any] {
                let i = seq["index"] as! Int
                let ids = (seq["ids"] as! [Int]).map { Int32($0) }
                let tape = Tape(recordsGradients: false)
                let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
                assertRelativeClose(logits, try ref.tensor("seq\(i).logits").floats, rtol: 1e-5, "\(v.folder) seq\(i)")
            }
        }
    }

    func testWrittenFolderIsTransformersByteForByte() throws {
        for v in Self.variants {
            let model = try quantizedTinyLlama(v.type, double: v.double)
            let dir = try temporaryFolder(v.folder)
            try ModelExport.writeNetwork(weights: model.parameters.mapValues(\.value), configuration: model.configuration,
                                         into: dir, dtype: .f32, keepFourBit: true)
            let theirs = try SafetensorsFile(path: Fixtures.folder.appendingPathComponent("\(v.folder)/model.safetensors").path)
            let ours = try SafetensorsFile(path: dir.appendingPathComponent("model.safetensors").path)
            XCTAssertEqual(ours.names.sorted(), theirs.names.sorted(), v.folder)
            for name in theirs.names.sorted() {
                let (a, b) = (try ours.tensor(name), try theirs.tensor(name))
                XCTAssertEqual(a.dtype, b.dtype, name)
                XCTAssertEqual(a.shape, b.shape, name)
                XCTAssertEqual(a.withUnsafeBytes { Array($0) }, b.withUnsafeBytes { Array($0) }, "\(v.folder) \(name) bytes")
            }
            let ourConfig = try XCTUnwrap(ModelLoader.quantizationConfig(dir.appendingPathComponent("config.json")))
            let theirConfig = try XCTUnwrap(ModelLoader.quantizationConfig(Fixtures.folder.appendingPathComponent("\(v.folder)/config.json")))
            XCTAssertEqual(ourConfig as NSDictionary, theirConfig as NSDictionary, v.folder)

            let back = try ModelLoader.loadNetwork(folder: dir)
            for (name, p) in model.parameters {
                if let m = p.value.packed as? FourBitMatrix {
                    XCTAssertEqual(back.parameter(name).value.packed as? FourBitMatrix, m, "\(name) after a round trip")
                } else {
                    XCTAssertEqual(back.parameter(name).value.floats, p.value.floats, name)
                }
            }
        }
    }

    func testUnsupportedQuantizationAndDamagedStateAreNamed() throws {
        let source = Fixtures.folder.appendingPathComponent("tiny_llama_bnb_nf4")
        let dir = try temporaryFolder("bnb-bad")
        var config = try Fixtures.json("tiny_llama_bnb_nf4/config.json")
        config["quantization_config"] = ["quant_method": "bitsandbytes", "load_in_8bit": true, "load_in_4bit": false]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try ModelLoader.loadNetwork(folder: dir)) { e in
            XCTAssertTrue("\(e)".contains("bitsandbytes 8-bit") && "\(e)".contains("quantization_config"), "\(e)")
        }

        // A quant_map that is not the NF4 table, and a packed weight of the wrong length.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let original = try SafetensorsFile(path: source.appendingPathComponent("model.safetensors").path)
        let target = "model.layers.1.mlp.up_proj.weight"
        for damage in ["quant_map", "weight"] {
            var tensors: [(String, Tensor)] = []
            for name in original.names {
                var t = try original.tensor(name).copied()
                if damage == "quant_map" && name == target + ".quant_map" {
                    t = try Tensor(shape: [16], values: FourBitType.fp4.quantMap)
                } else if damage == "weight" && name == target {
                    t = Tensor(zeros: [10, 1], dtype: .u8)
                }
                tensors.append((name, t))
            }
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
            XCTAssertThrowsError(try ModelLoader.loadNetwork(folder: dir)) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains(damage == "weight" ? target + "'" : target + ".quant_map"), text)
                XCTAssertTrue(text.contains(damage == "weight" ? "[4096, 1]" : "NF4 table"), text)
            }
        }
    }
}
