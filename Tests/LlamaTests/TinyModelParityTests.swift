// Tiny random models written by transformers (Llama, Llama 3 rope scaling + tied
// embeddings, Qwen2 with q/k/v bias, Qwen3 with q/k norms, SmolLM3 with a NoPE layer, Phi-3
// with fused projections, partial rotary, LongRoPE and a sliding window): our logits, losses
// and (Llama, Qwen3, SmolLM3, Phi-3) gradients against the reference computed in float32 by
// transformers/PyTorch; the same models written as GGUF and read back.
import XCTest
import TensorCore
import ModelFormats
@testable import Llama

final class TinyModelParityTests: XCTestCase {
    func checkLogits(_ name: String) throws {
        let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        let meta = try Fixtures.json("\(name)/reference.json")
        if let inv = try? ref.tensor("rope.inv_freq") {  // Phi-3 has two sets, checked in Phi3ParityTests
            assertRelativeClose(model.configuration.ropeInverseFrequencies, inv.floats, rtol: 1e-6, "inv_freq")
        }
        for case let seq as [String: Any] in meta["sequences"] as! [Any] {
            let i = seq["index"] as! Int
            let ids = (seq["ids"] as! [Int]).map { Int32($0) }
            let tape = Tape(recordsGradients: false)
            let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
            assertRelativeClose(logits, try ref.tensor("seq\(i).logits").floats, rtol: 1e-4, "\(name) seq\(i)")
            let targets = Array(ids.dropFirst()) + [-100]
            let t2 = Tape(recordsGradients: false)
            let loss = t2.value(try model.loss(t2, ids: ids, targets: targets, batch: 1, length: ids.count)).scalar
            XCTAssertEqual(Double(loss), seq["mean_loss"] as! Double, accuracy: 1e-4 * Double(loss), "\(name) seq\(i) loss")
        }
    }

    func testTinyLlamaLogits() throws { try checkLogits("tiny_llama") }
    func testTinyLlama3RopeScalingAndTiedLogits() throws { try checkLogits("tiny_llama3") }
    func testTinyQwen2BiasLogits() throws { try checkLogits("tiny_qwen2") }
    func testTinyQwen3QueryKeyNormLogits() throws { try checkLogits("tiny_qwen3") }
    func testTinySmolLM3NoPELogits() throws { try checkLogits("tiny_smollm3") }
    /// Sequence 0 (12 tokens) stays within Phi-3's original context (short factors), 1 and 2 pass it (long).
    func testTinyPhi3FusedPartialLongRopeSlidingLogits() throws { try checkLogits("tiny_phi3") }

    func testTinyLlamaGradientsMatchPyTorch() throws { try checkGradients("tiny_llama") }
    /// Llama 3.2's shape of model: tied embeddings and llama3 rope scaling, past its original context (64 of 160 positions in the logits test).
    func testTinyLlama3GradientsMatchPyTorch() throws { try checkGradients("tiny_llama3") }
    func testTinyQwen3GradientsMatchPyTorch() throws { try checkGradients("tiny_qwen3") }
    func testTinySmolLM3GradientsMatchPyTorch() throws { try checkGradients("tiny_smollm3") }
    func testTinyPhi3GradientsMatchPyTorch() throws { try checkGradients("tiny_phi3") }

    func testFamiliesAreReadFromConfig() throws {
        let qwen3 = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_qwen3")).configuration
        XCTAssertEqual(qwen3.modelType, "qwen3")
        XCTAssertTrue(qwen3.queryKeyNorm)
        XCTAssertFalse(qwen3.attentionBias)
        XCTAssertEqual(qwen3.headDim, 24)
        let smol = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_smollm3")).configuration
        XCTAssertEqual(smol.noRopeLayers, [1])
        // Without no_rope_layers, transformers' default: every no_rope_layer_interval-th layer (4).
        let json = #"{"model_type": "smollm3", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 8, "#
            + #""num_attention_heads": 2}"#
        XCTAssertEqual(try LlamaConfiguration(json: Data(json.utf8), source: "c.json").noRopeLayers, [3, 7])
    }

    /// Each family written as a GGUF file (f32) by `ModelExport.writeGGUF` and read back gives the
    /// folder's logits: tensor names (attn_q_norm …), q/k permutation (llama, smollm3) and metadata.
    func testFamiliesRoundTripThroughGGUF() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-gguf-families-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 20 tokens: past tiny_phi3's original context (16) and its sliding window (12).
        let ids: [Int32] = [5, 77, 3, 190, 42, 8, 13, 250, 1, 99, 64, 7, 31, 2, 180, 66, 9, 120, 4, 201]
        for name in ["tiny_llama", "tiny_qwen2", "tiny_qwen3", "tiny_smollm3", "tiny_llama3", "tiny_phi3"] {
            let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
            let url = dir.appendingPathComponent("\(name).gguf")
            try ModelExport.writeGGUF(weights: model.parameters.mapValues(\.value), configuration: model.configuration, tokenizer: [],
                                      to: url, type: .f32, name: name)
            let gguf = try GGUFFile(path: url.path)
            XCTAssertEqual(gguf.architecture, model.configuration.ggufArchitecture, name)
            let config = try ModelLoader.configuration(gguf: gguf)
            XCTAssertEqual(config.queryKeyNorm, model.configuration.queryKeyNorm, name)
            XCTAssertEqual(config.noRopeLayers, model.configuration.noRopeLayers, name)
            XCTAssertEqual(config.fusedProjections, model.configuration.fusedProjections, name)
            XCTAssertEqual(config.rotaryDimensions, model.configuration.rotaryDimensions, name)
            XCTAssertEqual(config.slidingWindow, model.configuration.slidingWindow, name)
            if model.configuration.modelType == "phi3" { XCTAssertEqual(config.ropeScaling, model.configuration.ropeScaling, name) }
            let back = try LlamaModel(configuration: config, weights: try ModelLoader.weights(gguf: gguf, configuration: config), source: url.path)
            func logits(_ m: LlamaModel) throws -> [Float] {
                let t = Tape(recordsGradients: false)
                return t.value(try m.logits(t, ids: ids, batch: 1, length: ids.count)).floats
            }
            assertRelativeClose(try logits(back), try logits(model), rtol: 1e-5, "\(name) via GGUF")
        }
    }

    /// Greedy decoding with the KV cache gives the tokens a full forward pass predicts (the cache
    /// path runs q/k norms, NoPE layers, fused projections and the sliding window too: prompt and
    /// answer together pass tiny_phi3's window of 12 but stay within its original context of 16).
    func testCachedDecodingMatchesFullForward() throws {
        for name in ["tiny_qwen3", "tiny_smollm3", "tiny_phi3"] {
            let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
            let prompt: [Int] = [5, 77, 3, 190, 42, 8, 13, 250, 1]
            let generated = try model.generate(prompt: prompt, maxNewTokens: 6, sampling: SamplingOptions(), stopTokens: [])
            var ids = prompt
            for _ in 0..<generated.count {
                let t = Tape(recordsGradients: false)
                let logits = t.value(try model.logits(t, ids: ids.map(Int32.init), batch: 1, length: ids.count)).floats
                let last = Array(logits[(logits.count - model.configuration.vocabularySize)...])
                ids.append(last.indices.max { last[$0] < last[$1] }!)
            }
            XCTAssertEqual(generated, Array(ids.dropFirst(prompt.count)), name)
        }
    }

    func checkGradients(_ name: String) throws {
        let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
        for p in model.parameters.values { p.requiresGrad = true }
        let meta = try Fixtures.json("\(name)/reference.json")
        let batch = meta["grad_batch"] as! [String: Any]
        let ids = (batch["input_ids"] as! [[Int]]).flatMap { $0 }.map { Int32($0) }
        let labels = (batch["labels"] as! [[Int]]).flatMap { $0 }.map { Int32($0) }
        let rows = (batch["input_ids"] as! [[Int]]).count
        for checkpoint in [false, true] {
            model.parameters.values.forEach { $0.zeroGrad() }
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: labels, batch: rows, length: ids.count / rows,
                                      options: ForwardOptions(gradientCheckpointing: checkpoint))
            XCTAssertEqual(Double(tape.value(loss).scalar), batch["loss"] as! Double, accuracy: 1e-5)
            try tape.backward(loss)
            let ref = try Fixtures.tensors("\(name)/reference.safetensors")
            for p in model.parameters.values {
                assertRelativeClose(p.grad!.floats, try ref.tensor("grad.\(p.name)").floats, rtol: 1e-4, "\(name) grad \(p.name) checkpoint=\(checkpoint)")
            }
        }
    }

    func testConfigErrorsNameTheProblem() throws {
        let bad = #"{"model_type": "gpt_neox", "hidden_size": 8}"#.data(using: .utf8)!
        XCTAssertThrowsError(try LlamaConfiguration(json: bad, source: "x/config.json")) { e in
            XCTAssertEqual(e as? ConfigurationError, .unsupportedArchitecture("gpt_neox", source: "x/config.json"))
        }
        let missing = #"{"model_type": "llama", "hidden_size": 8}"#.data(using: .utf8)!
        XCTAssertThrowsError(try LlamaConfiguration(json: missing, source: "y/config.json")) { e in
            XCTAssertTrue("\(e)".contains("y/config.json") && "\(e)".contains("num_attention_heads"))
        }
    }

    func testExportedFolderRoundTrips() throws {
        let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_qwen2"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-export-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.configuration.huggingFaceJSON().write(to: dir.appendingPathComponent("config.json"))
        try SafetensorsWriter.write(model.parameters.map { ($0.key, $0.value.value) }, metadata: ["format": "pt"],
                                    to: dir.appendingPathComponent("model.safetensors"))
        let back = try ModelLoader.loadNetwork(folder: dir)
        XCTAssertEqual(back.configuration, model.configuration)
        let ids: [Int32] = [5, 9, 200, 17, 3]
        let t1 = Tape(recordsGradients: false), t2 = Tape(recordsGradients: false)
        XCTAssertEqual(t1.value(try model.logits(t1, ids: ids, batch: 1, length: 5)).floats,
                       t2.value(try back.logits(t2, ids: ids, batch: 1, length: 5)).floats)
    }
}
