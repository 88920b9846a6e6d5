// LoRA on a tiny Llama: B = 0 leaves the model unchanged, merging equals base + adapter,
// merging into 4 bits again reports its rounding, PEFT-layout files round-trip, targeting
// follows PEFT's name rules, and broken adapter folders give errors naming file and tensor.
import XCTest
import Foundation
import TensorCore
import ModelFormats
import Quantization
import Llama
@testable import FineTuning

enum TestModels {
    static let llamaFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("LlamaTests/Fixtures")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func tiny() throws -> LlamaModel {
        try ModelLoader.loadNetwork(folder: llamaFixtures.appendingPathComponent("tiny_llama"))
    }

    static func logits(_ model: LlamaModel, _ ids: [Int32]) throws -> [Float] {
        let t = Tape(recordsGradients: false)
        return t.value(try model.logits(t, ids: ids, batch: 1, length: ids.count)).floats
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

final class LoRATests: XCTestCase {
    let ids: [Int32] = [3, 17, 99, 250, 4, 8, 15, 16]

    func testZeroBLeavesTheModelUnchanged() throws {
        let model = try TestModels.tiny()
        let before = try TestModels.logits(model, ids)
        let adapter = try LoRAAdapter.create(for: model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 1)
        try adapter.attach(to: model)
        XCTAssertEqual(try TestModels.logits(model, ids), before)
        XCTAssertEqual(adapter.layers.count, 2 * 7)
    }

    func randomized(_ model: LlamaModel, _ config: LoRAConfiguration) throws -> LoRAAdapter {
        let adapter = try LoRAAdapter.create(for: model, configuration: config, seed: 2)
        var g = SeededGenerator(seed: 3)
        for path in adapter.layers.keys.sorted() { let b = adapter.layers[path]!.b; b.value = Tensor.randomNormal(b.value.shape, std: 0.1, using: &g) }
        try adapter.attach(to: model)
        return adapter
    }

    func testMergeEqualsBasePlusAdapter() throws {
        let model = try TestModels.tiny()
        let adapter = try randomized(model, LoRAConfiguration(rank: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"]))
        let adapted = try TestModels.logits(model, ids)
        let merged = try LlamaModel(configuration: model.configuration, weights: adapter.mergedWeights(of: model), source: "merged")
        let mergedLogits = try TestModels.logits(merged, ids)
        model.adapters = [:]
        let base = try TestModels.logits(model, ids)
        XCTAssertGreaterThan(zip(adapted, base).map { abs($0 - $1) }.max()!, 1e-3, "the adapter must change the output")
        let scale = adapted.map(abs).max()!
        for (a, b) in zip(adapted, mergedLogits) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale) }
    }

    func testRequantizedMergeIsFourBitAndMeasuresItsRounding() throws {
        let model = try TestModels.tiny()
        let adapter = try randomized(model, LoRAConfiguration(rank: 4, alpha: 8, targets: ["q_proj", "down_proj"]))
        let merged = try adapter.mergedWeights(of: model)
        let (weights, ratio) = try adapter.requantizedMergedWeights(of: model) { _, w in
            try FourBitMatrix(quantizing: w, type: .nf4, blockSize: 64, doubleQuant: true)
        }
        var rounding = 0.0, change = 0.0, fourBit = 0
        for name in weights.keys.sorted() {
            guard ModelLoader.isDecoderLinearWeight(name) else {
                XCTAssertEqual(weights[name]!.floats, merged[name]!.floats, name)
                continue
            }
            let q = try XCTUnwrap(weights[name]!.packed as? FourBitMatrix, name)
            XCTAssertEqual(q, try FourBitMatrix(quantizing: merged[name]!.widened(), type: .nf4, blockSize: 64, doubleQuant: true), name)
            fourBit += 1
            guard let layer = adapter.layers[String(name.dropLast(".weight".count))] else { continue }
            for (b, (m, d)) in zip(q.dequantized().floats, zip(merged[name]!.floats, try layer.delta().floats)) {
                rounding += Double(b - m) * Double(b - m)
                change += Double(d) * Double(d)
            }
        }
        XCTAssertEqual(fourBit, 14)
        XCTAssertGreaterThan(ratio, 0.01)
        XCTAssertEqual(ratio, (rounding / change).squareRoot(), accuracy: 1e-9 * ratio)
    }

    func testPEFTFilesRoundTrip() throws {
        let model = try TestModels.tiny()
        let config = LoRAConfiguration(rank: 4, alpha: 16, targets: ["all-linear"], rankPattern: ["down_proj": 2],
                                       alphaPattern: ["o_proj": 4], useRSLoRA: true)
        let adapter = try randomized(model, config)
        let before = try TestModels.logits(model, ids)
        let dir = try TestModels.temporaryDirectory("adapter")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("adapter")
        try adapter.save(to: url, baseModel: "tiny")
        let file = try SafetensorsFile(path: url.appendingPathComponent("adapter_model.safetensors").path)
        XCTAssertNotNil(file.info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
        XCTAssertEqual(file.info("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")?.shape, [2, 128])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["r"] as? Int, 4)
        XCTAssertEqual(json["use_rslora"] as? Bool, true)
        XCTAssertEqual(json["task_type"] as? String, "CAUSAL_LM")
        let loaded = try LoRAAdapter.load(from: url, for: model)
        XCTAssertEqual(loaded.layers["model.layers.0.self_attn.o_proj"]?.scale, 4 / Float(4).squareRoot())
        XCTAssertEqual(loaded.layers["model.layers.0.mlp.down_proj"]?.scale, 16 / Float(2).squareRoot())
        model.adapters = [:]
        try loaded.attach(to: model)
        XCTAssertEqual(try TestModels.logits(model, ids), before)
    }

    func testTargetingFollowsPEFTNames() throws {
        let c = LoRAConfiguration(rank: 8, targets: ["q_proj", "mlp.up_proj"], layers: [1], rankPattern: ["layers.1.self_attn.q_proj": 2])
        XCTAssertTrue(c.targets(path: "model.layers.1.self_attn.q_proj"))
        XCTAssertFalse(c.targets(path: "model.layers.0.self_attn.q_proj"), "layers_to_transform")
        XCTAssertTrue(c.targets(path: "model.layers.1.mlp.up_proj"))
        XCTAssertFalse(c.targets(path: "model.layers.1.mlp.down_proj"))
        XCTAssertEqual(c.rank(path: "model.layers.1.self_attn.q_proj"), 2)
        XCTAssertEqual(c.rank(path: "model.layers.1.mlp.up_proj"), 8)
        XCTAssertThrowsError(try LoRAConfiguration(targets: ["qproj"]).validate())
    }

    func testBrokenAdapterFoldersNameTheProblem() throws {
        let model = try TestModels.tiny()
        let adapter = try randomized(model, LoRAConfiguration(rank: 4, alpha: 8))
        let dir = try TestModels.temporaryDirectory("broken")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("adapter")
        try adapter.save(to: url, baseModel: "tiny")
        // Missing config.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try LoRAAdapter.load(from: empty, for: model)) { XCTAssertTrue("\($0)".contains("adapter_config.json")) }
        // Rank in the config disagrees with the tensors.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        json["r"] = 8
        try JSONSerialization.data(withJSONObject: json).write(to: url.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try LoRAAdapter.load(from: url, for: model)) { XCTAssertTrue("\($0)".contains("lora_A")) }
        // A tensor for a module the model lacks, and a truncated weights file.
        let weights = url.appendingPathComponent("adapter_model.safetensors")
        try SafetensorsWriter.write([("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", Tensor(zeros: [4, 64])),
                                     ("base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight", Tensor(zeros: [64, 4]))],
                                    to: weights)
        json["r"] = 4
        try JSONSerialization.data(withJSONObject: json).write(to: url.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try LoRAAdapter.load(from: url, for: model)) { XCTAssertTrue("\($0)".contains("layers.7")) }
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count / 2).write(to: weights)
        XCTAssertThrowsError(try LoRAAdapter.load(from: url, for: model)) { XCTAssertTrue("\($0)".contains("adapter_model.safetensors")) }
    }

    func testParameterSummaryFormatsLikePEFT() {
        let s = ParameterSummary(trainable: 4_884_480, total: 139_399_488)
        XCTAssertEqual(s.description, "trainable params: 4,884,480 || all params: 139,399,488 || trainable%: 3.5039")
    }
}
