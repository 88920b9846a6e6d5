// A short real fine-tune: SmolLM2-135M-Instruct (Q4_1 GGUF) with LoRA on the bundled
// Veloria dataset lowers the validation loss by a clear margin, and the adapter it saves
// loads back to the same validation loss.
import XCTest
import Foundation
@testable import TensorCore
import Llama
@testable import FineTuning

final class SmolLM2FineTuneTests: XCTestCase {
    func testShortLoRAFineTuneLowersValidationLoss() throws {
        let path = ProcessInfo.processInfo.environment["LORIKEET_SMOLLM2"]
            ?? TestModels.repoRoot.appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("SmolLM2 GGUF not found: run scripts/fetch-smollm2.sh") }
        let loaded = try ModelLoader.load(path)
        let splits = try DatasetSplits.load(path: TestModels.repoRoot.appendingPathComponent("examples/veloria").path, model: loaded,
                                            options: DatasetOptions(maxSequenceLength: 256))
        let valid = try XCTUnwrap(splits.valid).evaluationBatches(batchSize: 8)
        var config = TrainingConfiguration()
        config.lora = LoRAConfiguration(rank: 16, alpha: 32, targets: ["all-linear"])
        config.learningRate = 1e-3
        config.maxSteps = 12
        config.batchSize = 4
        config.warmup = 2
        let adapter = try LoRAAdapter.create(for: loaded.model, configuration: config.lora, seed: 0)
        try adapter.attach(to: loaded.model)
        let run = try TestModels.temporaryDirectory("smol")
        defer { try? FileManager.default.removeItem(at: run) }
        let trainer = try Trainer(model: loaded.model, adapter: adapter, configuration: config,
                                  train: try BatchIterator(dataset: splits.train, batchSize: 4, seed: 0),
                                  validation: valid, runDirectory: run, baseModelName: path)
        let before = try trainer.evaluate().loss
        let outcome = try trainer.run()
        let after = try XCTUnwrap(outcome.lastValidLoss)
        XCTAssertLessThan(after, 0.8 * before, "validation loss \(before) → \(after)")
        // The saved adapter reproduces the trained model.
        try adapter.save(to: run.appendingPathComponent("adapter"), baseModel: path)
        let reloaded = try LoRAAdapter.load(from: run.appendingPathComponent("adapter"), for: loaded.model)
        try reloaded.attach(to: loaded.model)
        XCTAssertEqual(try trainer.evaluate().loss, after, accuracy: 1e-6)
    }

    /// compute-dtype bf16 (products on bf16-rounded inputs, f32 sums) trains to a validation
    /// loss within 1 % of the f32 run's, from the same seed and batches, and is not the f32
    /// run under another name (the losses differ).
    func testBF16ComputeTrainsWithinOnePercentOfF32() throws {
        guard ComputeDType.bf16.isSupported else { throw XCTSkip("this CPU has no AVX512_BF16") }
        let path = ProcessInfo.processInfo.environment["LORIKEET_SMOLLM2"]
            ?? TestModels.repoRoot.appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("SmolLM2 GGUF not found: run scripts/fetch-smollm2.sh") }
        var losses: [ComputeDType: (before: Double, after: Double, train: Double)] = [:]
        for dtype in [ComputeDType.f32, .bf16] {
            let loaded = try ModelLoader.load(path)
            let splits = try DatasetSplits.load(path: TestModels.repoRoot.appendingPathComponent("examples/veloria").path, model: loaded,
                                                options: DatasetOptions(maxSequenceLength: 256))
            var config = TrainingConfiguration()
            config.lora = LoRAConfiguration(rank: 16, alpha: 32, targets: ["all-linear"])
            config.learningRate = 1e-3
            config.maxSteps = 8
            config.warmup = 2
            config.computeDType = dtype
            try config.validate()
            let adapter = try LoRAAdapter.create(for: loaded.model, configuration: config.lora, seed: 0)
            try adapter.attach(to: loaded.model)
            let run = try TestModels.temporaryDirectory("smol-\(dtype)")
            defer { try? FileManager.default.removeItem(at: run) }
            let trainer = try Trainer(model: loaded.model, adapter: adapter, configuration: config,
                                      train: try BatchIterator(dataset: splits.train, batchSize: 4, seed: 0, paddingFree: true),
                                      validation: try XCTUnwrap(splits.valid).evaluationBatches(batchSize: 8, paddingFree: true),
                                      runDirectory: run, baseModelName: path, checkpoints: false)
            let before = try trainer.evaluate().loss
            let outcome = try trainer.run()
            XCTAssertEqual(BLAS.computeDType, .f32, "the run puts the product precision back")
            losses[dtype] = (before, try XCTUnwrap(outcome.lastValidLoss), try XCTUnwrap(outcome.lastTrainLoss))
        }
        let f32 = try XCTUnwrap(losses[.f32]), bf16 = try XCTUnwrap(losses[.bf16])
        XCTAssertLessThan(bf16.after, 0.8 * bf16.before, "bf16 training learns: \(bf16)")
        XCTAssertEqual(bf16.before, f32.before, accuracy: 0.01 * f32.before, "base validation loss, bf16 \(bf16) vs f32 \(f32)")
        XCTAssertEqual(bf16.after, f32.after, accuracy: 0.01 * f32.after, "trained validation loss, bf16 \(bf16) vs f32 \(f32)")
        XCTAssertNotEqual(bf16.before, f32.before, "bf16 products round: the losses cannot be bit-identical")
    }

    func testBF16ComputeIsRefusedWithoutTheInstructions() throws {
        ComputeDType.bf16HiddenForTests = true
        defer { ComputeDType.bf16HiddenForTests = false }
        var config = TrainingConfiguration()
        config.computeDType = .bf16
        XCTAssertThrowsError(try config.validate()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("setting 'compute-dtype' bf16 needs a CPU with bf16 dot products"), text)
            XCTAssertTrue(text.contains("AVX512_BF16") && text.hasSuffix("use f32"), text)
        }
        config.computeDType = .f32
        XCTAssertNoThrow(try config.validate())
    }
}
