// Tiny random models written by transformers (Llama, Llama 3 rope scaling + tied
// embeddings, Qwen2 with q/k/v bias): our logits, losses and (Llama) gradients against
// the reference computed in float32 by transformers/PyTorch.
import XCTest
import TensorCore
import ModelFormats
@testable import Llama

final class TinyModelParityTests: XCTestCase {
    func checkLogits(_ name: String) throws {
        let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent(name))
        let ref = try Fixtures.tensors("\(name)/reference.safetensors")
        let meta = try Fixtures.json("\(name)/reference.json")
        assertRelativeClose(model.configuration.ropeInverseFrequencies, try ref.tensor("rope.inv_freq").floats, rtol: 1e-6, "inv_freq")
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

    func testTinyLlamaGradientsMatchPyTorch() throws {
        let model = try ModelLoader.loadNetwork(folder: Fixtures.folder.appendingPathComponent("tiny_llama"))
        for p in model.parameters.values { p.requiresGrad = true }
        let meta = try Fixtures.json("tiny_llama/reference.json")
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
            let ref = try Fixtures.tensors("tiny_llama/reference.safetensors")
            for (name, p) in model.parameters {
                assertRelativeClose(p.grad!.floats, try ref.tensor("grad.\(name)").floats, rtol: 1e-4, "grad \(name) checkpoint=\(checkpoint)")
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
