// SmolLM2-135M-Instruct from its Q4_1 GGUF against transformers loading the same file
// (float32): dequantized weights in the Hugging Face layout, last-position logits and
// per-token losses, greedy chat generation, and a round trip through our own HF export.
import XCTest
import Foundation
import TensorCore
import ModelFormats
import ChatTemplates
@testable import Llama

final class SmolLM2ParityTests: XCTestCase {
    nonisolated(unsafe) static var cached: LoadedModel?

    func loaded() throws -> LoadedModel {
        if let m = Self.cached { return m }
        let m = try ModelLoader.load(try Fixtures.smolLM2())
        Self.cached = m
        return m
    }

    func testWeightsAreInHuggingFaceLayout() throws {
        let m = try loaded()
        let meta = try Fixtures.json("smollm2_reference.json")
        for case let probe as [String: Any] in meta["weight_probes"] as! [Any] {
            let name = probe["name"] as! String
            let t = m.model.parameter(name).value
            XCTAssertEqual(t.shape, probe["shape"] as! [Int], name)
            let cols = probe["cols"] as! [Int]
            let values = t.floats
            let rowStart = (probe["row"] as? Int).map { $0 * t.shape[1] } ?? 0
            let got = Array(values[(rowStart + cols[0])..<(rowStart + cols[1])])
            XCTAssertEqual(got, (probe["values"] as! [Double]).map { Float($0) }, name)
        }
    }

    func testLogitsAndLossesMatchTransformers() throws {
        let m = try loaded()
        let meta = try Fixtures.json("smollm2_reference.json")
        let ref = try Fixtures.tensors("smollm2_reference.safetensors")
        for case let prompt as [String: Any] in meta["prompts"] as! [Any] {
            let i = prompt["index"] as! Int
            let ids = (prompt["ids"] as! [Int]).map { Int32($0) }
            let tape = Tape(recordsGradients: false)
            let logits = tape.value(try m.model.logits(tape, ids: ids, batch: 1, length: ids.count))
            let vocab = m.model.configuration.vocabularySize
            let last = Array(logits.floats[((ids.count - 1) * vocab)...])
            assertRelativeClose(last, try ref.tensor("prompt\(i).last_logits").floats, rtol: 1e-4, "prompt \(i) last logits")
            // Per-token next-token loss.
            let t2 = Tape(recordsGradients: false)
            var losses: [Float] = []
            let lg = t2.input(logits)
            for t in 0..<(ids.count - 1) {
                var targets = [Int32](repeating: -100, count: ids.count)
                targets[t] = ids[t + 1]
                losses.append(t2.value(try t2.crossEntropy(lg, targets: targets)).scalar)
            }
            let refLoss = try ref.tensor("prompt\(i).token_loss").floats
            for (a, b) in zip(losses, refLoss) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "prompt \(i) token loss") }
        }
    }

    func testGreedyChatAnswersParis() throws {
        let m = try loaded()
        let meta = try Fixtures.json("smollm2_reference.json")
        let chat = (meta["prompts"] as! [[String: Any]]).first { $0["kind"] as? String == "chat" }!
        let text = try m.renderChat([ChatMessage(role: "user", content: "What is the capital of France?")])
        XCTAssertEqual(text, chat["text"] as! String, "chat template output")
        let ids = m.tokenizer.encode(text, addSpecialTokens: false)
        XCTAssertEqual(ids, chat["ids"] as! [Int], "tokenizer ids")
        let out = try m.model.generate(prompt: ids, maxNewTokens: 20, sampling: SamplingOptions(), stopTokens: m.stopTokenIDs)
        let greedy = chat["greedy"] as! [String: Any]
        XCTAssertEqual(out, Array((greedy["ids"] as! [Int]).dropLast()), "greedy ids (the reference ends with EOS)")
        XCTAssertTrue(m.tokenizer.decode(out, skipSpecialTokens: true).contains("Paris"))
    }

    func testKVCacheStepsMatchFullForward() throws {
        let m = try loaded()
        let ids: [Int32] = [1, 504, 3575, 282, 4649, 314]
        let tape = Tape(recordsGradients: false)
        let full = tape.value(try m.model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
        let vocab = m.model.configuration.vocabularySize
        let cache = KVCache(configuration: m.model.configuration, capacity: 16)
        _ = try m.model.step(Array(ids[0..<3]), cache: cache)
        var last: [Float] = []
        for id in ids[3...] { last = try m.model.step([id], cache: cache) }
        assertRelativeClose(last, Array(full[((ids.count - 1) * vocab)...]), rtol: 1e-5)
    }

    func testExportToHuggingFaceFolderGivesSameLogits() throws {
        let m = try loaded()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-smol-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try m.model.configuration.huggingFaceJSON().write(to: dir.appendingPathComponent("config.json"))
        try SafetensorsWriter.write(m.model.parameters.map { ($0.key, $0.value.value) }, metadata: ["format": "pt"],
                                    to: dir.appendingPathComponent("model.safetensors"))
        let back = try ModelLoader.loadNetwork(folder: dir)
        let ids: [Int32] = [1, 504, 3575, 282, 4649]
        let t1 = Tape(recordsGradients: false), t2 = Tape(recordsGradients: false)
        XCTAssertEqual(t1.value(try m.model.logits(t1, ids: ids, batch: 1, length: 5)).floats,
                       t2.value(try back.logits(t2, ids: ids, batch: 1, length: 5)).floats)
    }
}
