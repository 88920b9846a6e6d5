// QLoRA bases: linear weights kept in the GGUF's own Q4_1 blocks (widened right before each
// product) compute exactly what the dequantized f32 base computes, train LoRA adapters the
// same way, and never get a weight gradient; `bf16-base` narrows only the unquantized tensors;
// LoRA trains over a transformers-saved 4-bit folder without touching its codes.
import XCTest
import Foundation
import TensorCore
import Quantization
import Llama
@testable import FineTuning

final class QLoRATests: XCTestCase {
    func smolLM2() throws -> String {
        let path = ProcessInfo.processInfo.environment["LORIKEET_SMOLLM2"]
            ?? TestModels.repoRoot.appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("SmolLM2 GGUF not found: run scripts/fetch-smollm2.sh") }
        return path
    }

    func testKeptGGUFBlocksEqualTheDequantizedBase() throws {
        let path = try smolLM2()
        let dense = try ModelLoader.load(path)
        let kept = try ModelLoader.load(path, options: LoadOptions(keepGGUFBlocks: true))
        let q = kept.model.parameter("model.layers.0.self_attn.q_proj.weight").value
        XCTAssertEqual(q.dtype, .packed)
        XCTAssertEqual(q.shape, [576, 576])
        XCTAssertEqual(q.packed?.encoding, "Q4_1")
        // q/k rows are permuted back block-wise: the widened matrix equals the dense one.
        XCTAssertEqual(q.widened().floats, dense.model.parameter("model.layers.0.self_attn.q_proj.weight").value.floats)
        XCTAssertEqual(kept.model.parameter("model.layers.3.self_attn.k_proj.weight").value.widened().floats,
                       dense.model.parameter("model.layers.3.self_attn.k_proj.weight").value.floats)
        let keptBytes = kept.model.parameters.values.reduce(0) { $0 + $1.value.byteCount }
        let denseBytes = dense.model.parameters.values.reduce(0) { $0 + $1.value.byteCount }
        XCTAssertLessThan(Double(keptBytes), 0.4 * Double(denseBytes), "packed base \(keptBytes) vs dense \(denseBytes)")

        let ids: [Int32] = [1, 504, 3575, 282, 4649, 314]
        let t1 = Tape(recordsGradients: false), t2 = Tape(recordsGradients: false)
        XCTAssertEqual(t1.value(try kept.model.logits(t1, ids: ids, batch: 1, length: ids.count)).floats,
                       t2.value(try dense.model.logits(t2, ids: ids, batch: 1, length: ids.count)).floats)

        // LoRA gradients over the packed base equal those over the dense base.
        var grads: [[Float]] = []
        for loaded in [kept, dense] {
            let adapter = try LoRAAdapter.create(for: loaded.model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 3)
            var g = SeededGenerator(seed: 4)
            for path in adapter.layers.keys.sorted() { let b = adapter.layers[path]!.b; b.value = Tensor.randomNormal(b.value.shape, std: 0.01, using: &g) }
            try adapter.attach(to: loaded.model)
            for p in loaded.model.parameters.values { p.requiresGrad = false }
            let tape = Tape()
            let targets = Array(ids.dropFirst()) + [-100]
            try tape.backward(try loaded.model.loss(tape, ids: ids, targets: targets, batch: 1, length: ids.count))
            grads.append(adapter.parameters.flatMap { $0.grad!.floats })
            XCTAssertTrue(loaded.model.parameters.values.allSatisfy { $0.grad == nil }, "the frozen base gets no gradient")
            loaded.model.adapters = [:]
        }
        XCTAssertEqual(grads[0], grads[1])
    }

    func testNF4BaseComputesWithItsDequantizedWeights() throws {
        for (quant, double) in [(BaseQuantization.nf4, true), (.fp4, false)] {
            var config = TrainingConfiguration()
            config.method = .qlora
            config.quantization = quant
            config.doubleQuantization = double
            let folder = TestModels.llamaFixtures.appendingPathComponent("tiny_llama")
            let packed = try ModelLoader.loadNetwork(folder: folder, options: config.loadOptions())
            let q = packed.parameter("model.layers.1.mlp.down_proj.weight").value
            XCTAssertEqual(q.dtype, .packed)
            XCTAssertEqual(q.packed?.encoding, quant.rawValue.uppercased())
            // The same model with every linear replaced by its dequantized f32 values.
            var weights: [String: Tensor] = [:]
            for (name, p) in packed.parameters { weights[name] = p.value.widened() }
            let dense = try LlamaModel(configuration: packed.configuration, weights: weights, source: "dequantized")
            let original = try TestModels.tiny()
            let ids: [Int32] = [5, 77, 190, 3, 42, 42, 8]
            let lp = try TestModels.logits(packed, ids), ld = try TestModels.logits(dense, ids), lo = try TestModels.logits(original, ids)
            XCTAssertEqual(lp, ld, "\(quant)")
            let drift = zip(lp, lo).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(drift, 0, "4-bit weights must differ from the originals")
            if quant == .nf4 {  // FP4 is coarser; on this random tiny model only NF4 gets a bound
                XCTAssertLessThan(drift, 0.25 * lo.map(abs).max()!, "nf4 stays close to the f32 model")
            }
        }
    }

    func testBF16BaseNarrowsOnlyTheUnquantizedTensors() throws {
        var config = TrainingConfiguration()
        config.method = .qlora
        config.bf16Base = true
        let folder = TestModels.llamaFixtures.appendingPathComponent("tiny_llama")
        let narrow = try ModelLoader.loadNetwork(folder: folder, options: config.loadOptions())
        config.bf16Base = false
        let wide = try ModelLoader.loadNetwork(folder: folder, options: config.loadOptions())
        for (name, p) in narrow.parameters {
            if ModelLoader.isDecoderLinearWeight(name) {
                XCTAssertEqual(p.value.dtype, .packed, name)
            } else {
                XCTAssertEqual(p.value.dtype, .bf16, name)
                XCTAssertEqual(p.value.floats, wide.parameter(name).value.narrowed(to: .bf16).floats, name)
            }
        }
        let ids: [Int32] = [5, 77, 190, 3, 42, 42, 8]
        let ln = try TestModels.logits(narrow, ids), lw = try TestModels.logits(wide, ids)
        XCTAssertNotEqual(ln, lw, "bf16 rounding must show")
        XCTAssertLessThan(zip(ln, lw).map { abs($0 - $1) }.max()!, 0.02 * lw.map(abs).max()!)

        config.method = .full
        config.bf16Base = true
        XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("bf16-base"), "\($0)") }
        XCTAssertThrowsError(try config.set("bf16-base", "maybe", source: "run.yaml")) { XCTAssertTrue("\($0)".contains("run.yaml"), "\($0)") }
    }

    func testLoRATrainsOnATransformersFourBitFolder() throws {
        // A folder transformers + bitsandbytes saved (NF4, double quant): the base stays in its
        // 4-bit codes, only the adapter gets gradients, and the saved adapter reloads to the same logits.
        var config = TrainingConfiguration()
        config.method = .qlora
        let folder = TestModels.llamaFixtures.appendingPathComponent("tiny_llama_bnb_nf4")
        let model = try ModelLoader.loadNetwork(folder: folder, options: config.loadOptions())
        let stored = try ModelLoader.loadNetwork(folder: folder)
        XCTAssertEqual(model.parameter("model.layers.0.mlp.up_proj.weight").value.packed as? FourBitMatrix,
                       stored.parameter("model.layers.0.mlp.up_proj.weight").value.packed as? FourBitMatrix)
        let adapter = try LoRAAdapter.create(for: model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 1)
        try adapter.attach(to: model)
        for p in model.parameters.values { p.requiresGrad = false }
        let ids: [Int32] = [5, 77, 190, 3, 42, 42, 8]
        let optimizer = AdamW()
        var losses: [Float] = []
        for _ in 0..<5 {
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: Array(ids.dropFirst()) + [-100], batch: 1, length: ids.count)
            losses.append(tape.value(loss).scalar)
            try tape.backward(loss)
            XCTAssertTrue(model.parameters.values.allSatisfy { $0.grad == nil }, "the 4-bit base gets no gradient")
            optimizer.step(adapter.parameters, learningRate: 1e-2)
            for p in adapter.parameters { p.zeroGrad() }
        }
        XCTAssertLessThan(losses.last!, losses.first!)
        let dir = try TestModels.temporaryDirectory("bnb-adapter")
        defer { try? FileManager.default.removeItem(at: dir) }
        try adapter.save(to: dir, baseModel: folder.path)
        let trained = try TestModels.logits(model, ids)
        model.adapters = [:]
        try LoRAAdapter.load(from: dir, for: model).attach(to: model)
        XCTAssertEqual(try TestModels.logits(model, ids), trained)
    }
}
