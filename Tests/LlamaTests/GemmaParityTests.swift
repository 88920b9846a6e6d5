// Gemma 3 text and Gemma 2 (tiny random Gemma3ForCausalLM / Gemma2ForCausalLM written by
// transformers, scripts/make_llama_fixtures.py): logits, losses and gradients against
// transformers/PyTorch in float32; the KV-cached decode path and packed sequences must honour
// the sliding window (8, shorter than the sequences). Gemma 2's soft-caps are set low (2 and 3).
import XCTest
import Foundation
import TensorCore
import ModelFormats
@testable import Llama

final class GemmaParityTests: XCTestCase {
    static let name = "tiny_gemma3"
    static let both = ["tiny_gemma3", "tiny_gemma2"]

    func load(_ name: String = name) throws -> LlamaModel {
        try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
    }

    func sequences(_ name: String = name) throws -> [(index: Int, ids: [Int32], meanLoss: Double)] {
        let meta = try Fixtures.json("\(name)/reference.json")
        return (meta["sequences"] as! [[String: Any]]).map {
            ($0["index"] as! Int, ($0["ids"] as! [Int]).map { Int32($0) }, $0["mean_loss"] as! Double)
        }
    }

    func testConfiguration() throws {
        let c = try load().configuration
        XCTAssertEqual(c.modelType, "gemma3")
        XCTAssertEqual(c.headDim, 32)
        XCTAssertTrue(c.tieWordEmbeddings)
        XCTAssertEqual(c.ropeScaling, .linear(factor: 2))
        XCTAssertEqual(c.gemma, GemmaSettings(queryPreAttnScalar: 20, slidingWindow: 8, slidingLayers: [true, true, false],
                                              localRopeTheta: 10_000))
        let ref = try Fixtures.tensors("\(Self.name)/reference.safetensors")
        assertRelativeClose(c.ropeInverseFrequencies, try ref.tensor("rope.full_attention.inv_freq").floats, rtol: 1e-6, "global inv_freq")
        assertRelativeClose(c.localRopeInverseFrequencies!, try ref.tensor("rope.sliding_attention.inv_freq").floats, rtol: 1e-6,
                            "local inv_freq")
    }

    /// transformers 5 writes rope_parameters per layer type; both spellings give one configuration.
    func testTransformers5ConfigSpelling() throws {
        let url = Fixtures.folder.appendingPathComponent("\(Self.name)/config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let classic = try LlamaConfiguration(contentsOf: url)
        json["rope_parameters"] = ["full_attention": ["rope_type": "linear", "factor": 2.0, "rope_theta": 1e6],
                                   "sliding_attention": ["rope_type": "default", "rope_theta": 1e4]]
        for key in ["rope_theta", "rope_scaling", "rope_local_base_freq"] { json.removeValue(forKey: key) }
        let v5 = try LlamaConfiguration(json: JSONSerialization.data(withJSONObject: json), source: "v5")
        XCTAssertEqual(v5, classic)
        // Written back by Lorikeet and read again: the same.
        XCTAssertEqual(try LlamaConfiguration(json: classic.huggingFaceJSON(), source: "export"), classic)
        json["final_logit_softcapping"] = 30.0
        XCTAssertThrowsError(try LlamaConfiguration(json: JSONSerialization.data(withJSONObject: json), source: "capped")) { e in
            XCTAssertTrue("\(e)".contains("final_logit_softcapping"))
        }
    }

    func testGemma2Configuration() throws {
        let c = try load("tiny_gemma2").configuration
        XCTAssertEqual(c.modelType, "gemma2")
        XCTAssertFalse(c.queryKeyNorm)
        XCTAssertEqual(c.gemma, GemmaSettings(queryPreAttnScalar: 20, slidingWindow: 8, slidingLayers: [true, false],
                                              localRopeTheta: 10_000, attentionSoftcap: 2, finalLogitSoftcap: 3))
        let ref = try Fixtures.tensors("tiny_gemma2/reference.safetensors")
        assertRelativeClose(c.ropeInverseFrequencies, try ref.tensor("rope.inv_freq").floats, rtol: 1e-6, "inv_freq")
        XCTAssertEqual(try LlamaConfiguration(json: c.huggingFaceJSON(), source: "export"), c)
    }

    func testLogitsAndLossMatchTransformers() throws {
        for name in Self.both { try checkLogits(name) }
    }

    func checkLogits(_ name: String) throws {
        let model = try load(name)
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        for (i, ids, meanLoss) in try sequences(name) {
            let tape = Tape(recordsGradients: false)
            let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
            assertRelativeClose(logits, try ref.tensor("seq\(i).logits").floats, rtol: 1e-4, "\(name) seq\(i)")
            let t2 = Tape(recordsGradients: false)
            let loss = t2.value(try model.loss(t2, ids: ids, targets: Array(ids.dropFirst()) + [-100], batch: 1, length: ids.count)).scalar
            XCTAssertEqual(Double(loss), meanLoss, accuracy: 1e-4 * meanLoss, "\(name) seq\(i) loss")
        }
    }

    func testGradientsMatchPyTorchWithAndWithoutCheckpointing() throws {
        for name in Self.both { try checkGradients(name) }
    }

    func checkGradients(_ name: String) throws {
        let model = try load(name)
        for p in model.parameters.values { p.requiresGrad = true }
        let meta = try Fixtures.json("\(name)/reference.json")
        let batch = meta["grad_batch"] as! [String: Any]
        let rowsIDs = batch["input_ids"] as! [[Int]]
        let ids = rowsIDs.flatMap { $0 }.map { Int32($0) }
        let labels = (batch["labels"] as! [[Int]]).flatMap { $0 }.map { Int32($0) }
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        XCTAssertEqual(Set(model.parameters.keys), Set(ref.names.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) }))
        for checkpoint in [false, true] {
            model.parameters.values.forEach { $0.zeroGrad() }
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: labels, batch: rowsIDs.count, length: ids.count / rowsIDs.count,
                                      options: ForwardOptions(gradientCheckpointing: checkpoint))
            XCTAssertEqual(Double(tape.value(loss).scalar), batch["loss"] as! Double, accuracy: 1e-5, name)
            try tape.backward(loss)
            for (param, p) in model.parameters {
                assertRelativeClose(p.grad!.floats, try ref.tensor("grad.\(param)").floats, rtol: 1e-4, "\(name): grad \(param) checkpoint=\(checkpoint)")
            }
        }
    }

    /// Prompt in one step, then one token at a time: each step's logits equal the full
    /// forward's row, also past the sliding window (the cache keeps every position).
    func testKVCachedDecodeHonoursWindow() throws {
        for name in Self.both { try checkDecode(name) }
    }

    func checkDecode(_ name: String) throws {
        let model = try load(name)
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        let (i, ids, _) = try sequences(name).last!
        let full = try ref.tensor("seq\(i).logits").floats
        let v = model.configuration.vocabularySize
        let cache = KVCache(configuration: model.configuration, capacity: ids.count)
        let prompt = 5
        var logits = try model.step(Array(ids[0..<prompt]), cache: cache)
        assertRelativeClose(logits, Array(full[(prompt - 1) * v..<prompt * v]), rtol: 1e-4, "\(name) prompt")
        for t in prompt..<ids.count {
            logits = try model.step([ids[t]], cache: cache)
            assertRelativeClose(logits, Array(full[t * v..<(t + 1) * v]), rtol: 1e-4, "\(name) position \(t)")
        }
    }

    /// Two sequences packed in one row (segments, positions restarting): each gives its own logits.
    func testPackedSequencesMatchSeparateOnes() throws {
        for name in Self.both { try checkPacked(name) }
    }

    func checkPacked(_ name: String) throws {
        let model = try load(name)
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        let seqs = try sequences(name)
        let ids = seqs.flatMap(\.ids)
        let segments = seqs.enumerated().flatMap { k, s in [Int32](repeating: Int32(k), count: s.ids.count) }
        let positions = seqs.flatMap { s in (0..<Int32(s.ids.count)).map { $0 } }
        let tape = Tape(recordsGradients: false)
        let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count,
                                                 options: ForwardOptions(segments: segments, positions: positions))).floats
        let v = model.configuration.vocabularySize
        var start = 0
        for s in seqs {
            assertRelativeClose(Array(logits[start * v..<(start + s.ids.count) * v]), try ref.tensor("seq\(s.index).logits").floats,
                                rtol: 1e-4, "\(name) packed seq\(s.index)")
            start += s.ids.count
        }
    }

    /// Written as a `gemma3` / `gemma2` GGUF (norms stored as 1 + w, llama.cpp's names and keys,
    /// no q/k permutation) and read back: the same logits. GGUF has no layer_types /
    /// query_pre_attn_scalar, so the model is given the values a GGUF implies; the fixture's
    /// own settings are refused.
    func testRoundTripsThroughGGUF() throws {
        try checkGGUFRoundTrip("tiny_gemma3", refusal: "layer_types")
        try checkGGUFRoundTrip("tiny_gemma2", refusal: "query_pre_attn_scalar")
    }

    func checkGGUFRoundTrip(_ name: String, refusal: String) throws {
        let fixture = try load(name)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-gemma-gguf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = fixture.parameters.mapValues(\.value)
        XCTAssertThrowsError(try ModelExport.writeGGUF(weights: weights, configuration: fixture.configuration, tokenizer: [],
                                                       to: dir.appendingPathComponent("refused.gguf"), type: .f32, name: "x")) { e in
            XCTAssertTrue("\(e)".contains(refusal), "\(e)")
        }
        var c = fixture.configuration
        let gemma2 = c.modelType == "gemma2"
        c.gemma!.slidingLayers = GemmaSettings.defaultSlidingLayers(count: c.layerCount, pattern: gemma2 ? 2 : 6)
        c.gemma!.queryPreAttnScalar = Float(c.headDim)
        if !gemma2 { c.gemma!.localRopeTheta = 20_000 }  // travels as gemma3.rope.freq_base_swa
        let model = try LlamaModel(configuration: c, weights: weights, source: "\(name) (GGUF-shaped)")
        let url = dir.appendingPathComponent("\(name).gguf")
        try ModelExport.writeGGUF(weights: weights, configuration: c, tokenizer: [], to: url, type: .f32, name: "tiny")
        let gguf = try GGUFFile(path: url.path)
        XCTAssertEqual(gguf.architecture, gemma2 ? "gemma2" : "gemma3")
        XCTAssertEqual(try gguf.tensor(named: "blk.0.post_ffw_norm.weight").floats,
                       weights["model.layers.0.post_feedforward_layernorm.weight"]!.floats.map { $0 + 1 })
        var config = try ModelLoader.configuration(gguf: gguf)
        XCTAssertEqual(config.gemma, c.gemma)
        config.bosTokenID = c.bosTokenID
        config.eosTokenIDs = c.eosTokenIDs
        config.maxPositions = c.maxPositions
        XCTAssertEqual(config, c)
        let back = try LlamaModel(configuration: config, weights: try ModelLoader.weights(gguf: gguf, configuration: config), source: url.path)
        let ids = try sequences(name).last!.ids
        let t1 = Tape(recordsGradients: false), t2 = Tape(recordsGradients: false)
        assertRelativeClose(t2.value(try back.logits(t2, ids: ids, batch: 1, length: ids.count)).floats,
                            t1.value(try model.logits(t1, ids: ids, batch: 1, length: ids.count)).floats, rtol: 1e-6, "\(name) via GGUF")
    }
}

/// Gemma 3 4B and larger ship as Gemma3ForConditionalGeneration: the text model inside it loads
/// (config from text_config, weights from language_model.*, the vision tower left out) and gives
/// transformers' logits of the multimodal model on text-only ids.
final class GemmaMultimodalTests: XCTestCase {
    func testTextModelOfAMultimodalCheckpoint() throws {
        let folder = Fixtures.folder.appendingPathComponent("tiny_gemma3_mm")
        let model = try ModelLoader.loadNetwork(folder: folder)
        let text = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_gemma3")).configuration
        var expected = text
        expected.eosTokenIDs = [1, 106]  // the top-level eos_token_id wins
        XCTAssertEqual(model.configuration, expected)
        let meta = try Fixtures.json("tiny_gemma3_mm/reference.json")
        let seq = (meta["sequences"] as! [[String: Any]])[0]
        let ids = (seq["ids"] as! [Int]).map { Int32($0) }
        let tape = Tape(recordsGradients: false)
        let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
        assertRelativeClose(logits, try Fixtures.tensors("tiny_gemma3_mm/reference.safetensors").tensor("seq0.logits").floats,
                            rtol: 1e-4, "multimodal text logits")
    }

    func testSparseTextConfigTakesTransformersDefaults() throws {
        // google/gemma-3-4b-it's text_config names only what differs from Gemma3TextConfig's defaults.
        let json = #"{"model_type": "gemma3", "eos_token_id": [1, 106], "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "#
            + #""model_type": "gemma3_text", "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024}}"#
        let c = try LlamaConfiguration(json: Data(json.utf8), source: "4b/config.json")
        XCTAssertEqual(c.vocabularySize, 262_208)
        XCTAssertEqual(c.attentionHeads, 8)
        XCTAssertEqual(c.kvHeads, 4)
        XCTAssertEqual(c.headDim, 256)
        XCTAssertEqual(c.gemma?.slidingWindow, 1024)
        XCTAssertEqual(c.ropeScaling, .linear(factor: 8))
        XCTAssertEqual(c.eosTokenIDs, [1, 106])
        XCTAssertEqual(c.paddingTokenID, 0)
        XCTAssertThrowsError(try LlamaConfiguration(json: Data(#"{"model_type": "gemma3"}"#.utf8), source: "x/config.json")) { e in
            XCTAssertTrue("\(e)".contains("text_config is missing"), "\(e)")
        }
    }
}
