// Gemma 3 text (tiny random Gemma3ForCausalLM written by transformers, scripts/make_llama_fixtures.py):
// logits, losses and gradients against transformers/PyTorch in float32; the KV-cached decode
// path and packed sequences must honour the sliding window (8, shorter than the sequences).
import XCTest
import Foundation
import TensorCore
import ModelFormats
@testable import Llama

final class GemmaParityTests: XCTestCase {
    static let name = "tiny_gemma3"

    func load() throws -> LlamaModel {
        try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(Self.name))
    }

    func sequences() throws -> [(index: Int, ids: [Int32], meanLoss: Double)] {
        let meta = try Fixtures.json("\(Self.name)/reference.json")
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

    func testLogitsAndLossMatchTransformers() throws {
        let model = try load()
        let ref = try Fixtures.tensors("\(Self.name)/reference.safetensors")
        for (i, ids, meanLoss) in try sequences() {
            let tape = Tape(recordsGradients: false)
            let logits = tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
            assertRelativeClose(logits, try ref.tensor("seq\(i).logits").floats, rtol: 1e-4, "seq\(i)")
            let t2 = Tape(recordsGradients: false)
            let loss = t2.value(try model.loss(t2, ids: ids, targets: Array(ids.dropFirst()) + [-100], batch: 1, length: ids.count)).scalar
            XCTAssertEqual(Double(loss), meanLoss, accuracy: 1e-4 * meanLoss, "seq\(i) loss")
        }
    }

    func testGradientsMatchPyTorchWithAndWithoutCheckpointing() throws {
        let model = try load()
        for p in model.parameters.values { p.requiresGrad = true }
        let meta = try Fixtures.json("\(Self.name)/reference.json")
        let batch = meta["grad_batch"] as! [String: Any]
        let rowsIDs = batch["input_ids"] as! [[Int]]
        let ids = rowsIDs.flatMap { $0 }.map { Int32($0) }
        let labels = (batch["labels"] as! [[Int]]).flatMap { $0 }.map { Int32($0) }
        let ref = try Fixtures.tensors("\(Self.name)/reference.safetensors")
        XCTAssertEqual(Set(model.parameters.keys), Set(ref.names.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) }))
        for checkpoint in [false, true] {
            model.parameters.values.forEach { $0.zeroGrad() }
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: labels, batch: rowsIDs.count, length: ids.count / rowsIDs.count,
                                      options: ForwardOptions(gradientCheckpointing: checkpoint))
            XCTAssertEqual(Double(tape.value(loss).scalar), batch["loss"] as! Double, accuracy: 1e-5)
            try tape.backward(loss)
            for (name, p) in model.parameters {
                assertRelativeClose(p.grad!.floats, try ref.tensor("grad.\(name)").floats, rtol: 1e-4, "grad \(name) checkpoint=\(checkpoint)")
            }
        }
    }

    /// Prompt in one step, then one token at a time: each step's logits equal the full
    /// forward's row, also past the sliding window (the cache keeps every position).
    func testKVCachedDecodeHonoursWindow() throws {
        let model = try load()
        let ref = try Fixtures.tensors("\(Self.name)/reference.safetensors")
        let (i, ids, _) = try sequences().last!
        let full = try ref.tensor("seq\(i).logits").floats
        let v = model.configuration.vocabularySize
        let cache = KVCache(configuration: model.configuration, capacity: ids.count)
        let prompt = 5
        var logits = try model.step(Array(ids[0..<prompt]), cache: cache)
        assertRelativeClose(logits, Array(full[(prompt - 1) * v..<prompt * v]), rtol: 1e-4, "prompt")
        for t in prompt..<ids.count {
            logits = try model.step([ids[t]], cache: cache)
            assertRelativeClose(logits, Array(full[t * v..<(t + 1) * v]), rtol: 1e-4, "position \(t)")
        }
    }

    /// Two sequences packed in one row (segments, positions restarting): each gives its own logits.
    func testPackedSequencesMatchSeparateOnes() throws {
        let model = try load()
        let ref = try Fixtures.tensors("\(Self.name)/reference.safetensors")
        let seqs = try sequences()
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
                                rtol: 1e-4, "packed seq\(s.index)")
            start += s.ids.count
        }
    }
}
