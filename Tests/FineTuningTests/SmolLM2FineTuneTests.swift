// A short real fine-tune: SmolLM2-135M-Instruct (Q4_1 GGUF) with LoRA on the bundled
// Veloria dataset lowers the validation loss by a clear margin, and the adapter it saves
// loads back to the same validation loss.
import XCTest
import Foundation
import TensorCore
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
}
