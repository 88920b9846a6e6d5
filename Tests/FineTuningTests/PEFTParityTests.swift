// Adapters written by PEFT (scripts/make_peft_fixtures.py, fixtures in Fixtures/peft):
// Lorikeet loads them and computes the same logits, loss and lora_A/lora_B gradients as
// PyTorch + PEFT on the tiny Llama; trainable-parameter counts equal PEFT's, including
// for SmolLM2-135M's shapes. The same adapters converted to GGUF by llama.cpp's own
// convert_lora_to_gguf.py (scripts/make_llamacpp_lora_fixtures.py) give PEFT's numbers too.
import XCTest
import Foundation
import TensorCore
import ModelFormats
import Llama
@testable import FineTuning

final class PEFTParityTests: XCTestCase {
    /// Checks the fixture `name` against PEFT's reference, reading the adapter from `file` in
    /// the fixture's folder (PEFT's own folder by default).
    func check(_ name: String, file: String = "adapter") throws {
        let dir = TestModels.fixtures.appendingPathComponent("peft/\(name)")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Any]
        let ref = try SafetensorsFile(path: dir.appendingPathComponent("reference.safetensors").path)
        // The fixture's base (tiny_llama, or another family's tiny model), by its repository path.
        let model = try ModelLoader.loadNetwork(folder: TestModels.repoRoot.appendingPathComponent(meta["base_model"] as! String))
        let adapter = try LoRAAdapter.load(from: dir.appendingPathComponent(file), for: model, trainable: true)
        try adapter.attach(to: model)
        let counts = meta["nb_trainable_parameters"] as! [String: Int]
        XCTAssertEqual(adapter.parameterCount, counts["trainable"], "\(name) trainable")
        XCTAssertEqual(model.configuration.parameterCount + adapter.parameterCount, counts["total"], "\(name) total")
        XCTAssertEqual(adapter.configuration.parameterCount(for: model.configuration), counts["trainable"], "\(name) shape-only count")

        let batch = meta["batch"] as! [String: Any]
        let rows = batch["input_ids"] as! [[Int]]
        let ids = rows.flatMap { $0 }.map { Int32($0) }
        let labels = (batch["labels"] as! [[Int]]).flatMap { $0 }.map { Int32($0) }
        let (b, t) = (rows.count, rows[0].count)
        let lt = Tape(recordsGradients: false)
        let logits = lt.value(try model.logits(lt, ids: ids, batch: b, length: t)).floats
        assertRelative(logits, try ref.tensor("logits").floats, 1e-4, "\(name) logits")
        let tape = Tape()
        let loss = try model.loss(tape, ids: ids, targets: labels, batch: b, length: t)
        XCTAssertEqual(Double(tape.value(loss).scalar), batch["loss"] as! Double, accuracy: 1e-5, "\(name) loss")
        try tape.backward(loss)
        for (path, layer) in adapter.layers {
            for (which, p) in [("A", layer.a), ("B", layer.b)] {
                let key = LoRALayer.key(path, which)
                assertRelative(try XCTUnwrap(p.grad).floats, try ref.tensor("grad." + key).floats, 1e-4, "\(name) grad \(key)")
            }
        }
    }

    func assertRelative(_ a: [Float], _ b: [Float], _ rtol: Float, _ message: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        let scale = b.map(abs).max() ?? 0
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, rtol * max(scale, 1e-12), "\(message): max diff \(worst), scale \(scale)", line: line)
    }

    func testBasicQV() throws { try check("basic") }
    func testRSLoRAWithRankAndAlphaPatterns() throws { try check("rslora_patterns") }
    func testLayersToTransform() throws { try check("layers") }
    func testQwen3AllLinear() throws { try check("qwen3") }
    func testGemma3AllLinear() throws { try check("gemma3") }
    func testGemma2AllLinear() throws { try check("gemma2") }
    /// PEFT on Phi-3's fused qkv_proj and gate_up_proj: one pair across q/k/v and one across gate/up.
    func testPhi3FusedTargets() throws { try check("phi3") }
    func testLlamaCppConvertedBasicQV() throws { try check("basic", file: "llamacpp.gguf") }
    func testLlamaCppConvertedLayersToTransform() throws { try check("layers", file: "llamacpp.gguf") }

    func testTrainableCountsEqualPEFTForSmolLM2() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: TestModels.fixtures.appendingPathComponent("peft/smollm2_counts.json"))) as! [String: Any]
        let arch = json["architecture"] as! [String: Any]
        let model = LlamaConfiguration(vocabularySize: arch["vocab_size"] as! Int, hiddenSize: arch["hidden_size"] as! Int,
                                       intermediateSize: arch["intermediate_size"] as! Int, layerCount: arch["num_hidden_layers"] as! Int,
                                       attentionHeads: arch["num_attention_heads"] as! Int, kvHeads: arch["num_key_value_heads"] as! Int,
                                       tieWordEmbeddings: arch["tie_word_embeddings"] as! Bool)
        for (name, value) in json["configs"] as! [String: Any] {
            let entry = value as! [String: Any]
            let peft = entry["lora_config"] as! [String: Any]
            var config = LoRAConfiguration(rank: peft["r"] as! Int, alpha: Float(peft["lora_alpha"] as! Int))
            if let all = peft["target_modules"] as? String { config.targets = [all] } else { config.targets = peft["target_modules"] as! [String] }
            config.rankPattern = peft["rank_pattern"] as? [String: Int] ?? [:]
            let trainable = config.parameterCount(for: model)
            let summary = ParameterSummary(trainable: trainable, total: model.parameterCount + trainable)
            XCTAssertEqual(model.parameterCount, entry["base_total"] as? Int, name)
            XCTAssertEqual(summary.description, entry["printed"] as? String, name)
        }
    }
}
