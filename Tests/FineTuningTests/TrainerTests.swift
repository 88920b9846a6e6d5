// The training loop on a tiny Llama with synthetic data: loss falls, an interrupted and
// resumed run is bit-identical to an uninterrupted one (LoRA and full), gradient
// accumulation equals one big batch, schedules match transformers' formulas.
import XCTest
import Foundation
import TensorCore
import Llama
@testable import FineTuning

final class TrainerTests: XCTestCase {
    func dataset(count: Int = 24, seed: UInt64 = 5) throws -> Dataset {
        var g = SeededGenerator(seed: seed)
        var examples: [TokenizedExample] = []
        for i in 0..<count {
            let n = 6 + i % 9
            // A learnable pattern: each row counts up from a random start.
            let start = Int(g.next() % 200)
            let tokens = (0..<n).map { (start + $0) % 256 }
            examples.append(TokenizedExample(tokens: tokens, targetMask: [false] + Array(repeating: true, count: n - 1)))
        }
        return try Dataset(examples: examples, options: DatasetOptions(maxSequenceLength: 32))
    }

    func config(_ method: TrainingMethod, steps: Int, optimizer: OptimizerKind = .adamw, onDisk: Bool = false) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.optimizer = optimizer
        c.optimizerStateOnDisk = onDisk
        c.method = method
        c.lora = LoRAConfiguration(rank: 4, alpha: 8, dropout: 0.1, targets: ["all-linear"])
        c.learningRate = method == .lora ? 1e-2 : 1e-3
        c.maxSteps = steps
        c.batchSize = 4
        c.warmup = 2
        c.schedule = .cosine
        c.seed = 11
        return c
    }

    /// Runs training, optionally stopping after `stopAt` steps and resuming from the checkpoint.
    func losses(_ method: TrainingMethod, steps: Int, stopAt: Int?, optimizer: OptimizerKind = .adamw, onDisk: Bool = false) throws -> [Double] {
        let run = try TestModels.temporaryDirectory("run")
        defer { try? FileManager.default.removeItem(at: run) }
        let data = try dataset()
        var out: [Double] = []
        func makeTrainer(_ c: TrainingConfiguration, fromCheckpoint: URL?) throws -> Trainer {
            let model = try ModelLoader.loadNetwork(folder: TestModels.llamaFixtures.appendingPathComponent("tiny_llama"),
                                                    options: c.loadOptions())
            var adapter: LoRAAdapter?
            if method.usesAdapter {
                adapter = fromCheckpoint == nil
                    ? try LoRAAdapter.create(for: model, configuration: c.lora, seed: c.seed)
                    : try LoRAAdapter.load(from: fromCheckpoint!.appendingPathComponent("adapter"), for: model, trainable: true)
                try adapter!.attach(to: model)
            }
            let stream = try BatchIterator(dataset: data, batchSize: c.batchSize, seed: c.seed)
            return try Trainer(model: model, adapter: adapter, configuration: c, train: stream, validation: [],
                               runDirectory: run, baseModelName: "tiny")
        }
        var c = config(method, steps: steps, optimizer: optimizer, onDisk: onDisk)
        if let stopAt {
            c.saveEvery = stopAt
            var stopped = false
            let first = try makeTrainer(c, fromCheckpoint: nil)
            let o = try first.run(shouldStop: { stopped }) { e in
                if case let .step(r) = e { out.append(r.loss); if r.step == stopAt { stopped = true } }
            }
            XCTAssertTrue(o.interrupted)
            XCTAssertEqual(o.steps, stopAt)
            let cp = try XCTUnwrap(Checkpoint.latest(run: run))
            let second = try makeTrainer(c, fromCheckpoint: cp)
            _ = try second.run(resumeFrom: cp, onEvent: { e in if case let .step(r) = e { out.append(r.loss) } })
        } else {
            let t = try makeTrainer(c, fromCheckpoint: nil)
            _ = try t.run(onEvent: { e in if case let .step(r) = e { out.append(r.loss) } })
        }
        return out
    }

    func testLoRAResumeIsBitIdentical() throws {
        let straight = try losses(.lora, steps: 10, stopAt: nil)
        let resumed = try losses(.lora, steps: 10, stopAt: 4)
        XCTAssertEqual(straight.count, 10)
        XCTAssertEqual(straight, resumed)
        XCTAssertLessThan(straight.last!, straight.first!, "loss should fall")
    }

    func testQLoRAResumeIsBitIdentical() throws {
        // NF4 base (double quantization): the packed weights are rebuilt from the same f32
        // file on resume, so every later loss must match exactly.
        let straight = try losses(.qlora, steps: 6, stopAt: nil)
        XCTAssertEqual(try losses(.qlora, steps: 6, stopAt: 2), straight)
        XCTAssertNotEqual(straight, try losses(.lora, steps: 6, stopAt: nil), "the 4-bit base must be in use")
    }

    func testFullResumeIsBitIdentical() throws {
        let straight = try losses(.full, steps: 6, stopAt: nil)
        let resumed = try losses(.full, steps: 6, stopAt: 3)
        XCTAssertEqual(straight, resumed)
    }

    func testEightBitAdamWTracksAdamWAndResumesExactly() throws {
        // Full fine-tuning of the tiny Llama: its embedding, projections and MLP matrices
        // (≥ 4,096 values) get 8-bit state, norms stay 32-bit.
        let exact = try losses(.full, steps: 8, stopAt: nil)
        let eight = try losses(.full, steps: 8, stopAt: nil, optimizer: .adamw8bit)
        XCTAssertEqual(eight[0], exact[0], "the first loss is computed before any update")
        XCTAssertNotEqual(eight.last, exact.last, "8-bit state must actually be used")
        // Tolerance: 8-bit moments carry ~1 % relative error per block; over 8 steps the loss
        // stays within 2 % of the 32-bit run.
        for (a, b) in zip(eight, exact) { XCTAssertEqual(a, b, accuracy: 0.02 * b) }
        XCTAssertEqual(try losses(.full, steps: 8, stopAt: 3, optimizer: .adamw8bit), eight)
    }

    func testDiskBackedStateEqualsInMemoryAdamW() throws {
        let inMemory = try losses(.full, steps: 6, stopAt: nil)
        XCTAssertEqual(try losses(.full, steps: 6, stopAt: nil, onDisk: true), inMemory)
        XCTAssertEqual(try losses(.full, steps: 6, stopAt: 2, onDisk: true), inMemory, "checkpoints interchange with AdamW's")
    }

    func testGradientAccumulationEqualsOneBigBatch() throws {
        let data = try dataset(count: 8)
        var batches: [[Float]] = []
        for (batchSize, accumulation) in [(8, 1), (2, 4)] {
            let model = try TestModels.tiny()
            var c = config(.full, steps: 1)
            c.batchSize = batchSize
            c.gradientAccumulation = accumulation
            c.maxGradientNorm = 0
            let stream = try BatchIterator(dataset: data, batchSize: batchSize, seed: 1, shuffle: false)
            let run = try TestModels.temporaryDirectory("accum")
            defer { try? FileManager.default.removeItem(at: run) }
            let t = try Trainer(model: model, adapter: nil, configuration: c, train: stream, validation: [], runDirectory: run, baseModelName: "tiny")
            var loss = 0.0
            _ = try t.run(onEvent: { e in if case let .step(r) = e { loss = r.loss } })
            batches.append([Float(loss)] + model.parameter("model.layers.0.self_attn.q_proj.weight").value.floats)
        }
        // Padding differs between the two batchings, the counted tokens do not: equal up to
        // float summation order.
        XCTAssertEqual(batches[0][0], batches[1][0], accuracy: 1e-5)
        let diff = zip(batches[0], batches[1]).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(diff, 1e-5)
    }

    func testSchedulesMatchTransformers() {
        let cos = LearningRateSchedule(kind: .cosine, peak: 1, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(cos.rate(at: 0), 0)
        XCTAssertEqual(cos.rate(at: 5), 0.5)
        XCTAssertEqual(cos.rate(at: 10), 1)
        XCTAssertEqual(cos.rate(at: 60), 0.5, accuracy: 1e-6)
        XCTAssertEqual(cos.rate(at: 110), 0, accuracy: 1e-7)
        let lin = LearningRateSchedule(kind: .linear, peak: 2, warmupSteps: 0, totalSteps: 4)
        XCTAssertEqual([0, 1, 2, 3].map { lin.rate(at: $0) }, [2, 1.5, 1, 0.5])
        XCTAssertEqual(LearningRateSchedule(kind: .constant, peak: 3, warmupSteps: 2, totalSteps: 9).rate(at: 5), 3)
    }

    func testConfigurationKeysAndErrors() throws {
        var c = TrainingConfiguration()
        try c.set("targets", "q_proj, v_proj", source: "test")
        try c.set("rank-pattern", ["down_proj": 4], source: "test")
        try c.set("warmup", 0.1, source: "test")
        try c.set("lr-schedule", "linear", source: "test")
        XCTAssertEqual(c.lora.targets, ["q_proj", "v_proj"])
        XCTAssertEqual(c.lora.rankPattern, ["down_proj": 4])
        XCTAssertEqual(c.warmupSteps(total: 50), 5)
        XCTAssertThrowsError(try c.set("learning_rate", 1e-3, source: "run.yaml")) { XCTAssertTrue("\($0)".contains("run.yaml")) }
        XCTAssertThrowsError(try c.set("batch-size", "many", source: "run.yaml")) { XCTAssertTrue("\($0)".contains("batch-size")) }
        var again = TrainingConfiguration()
        for (k, v) in c.settings { try again.set(k, v, source: "round trip") }
        XCTAssertEqual(again, c)
    }
}

/// A batch whose loss is NaN (its token's embedding row is NaN): the run stops at that step,
/// naming the cause and the last good checkpoint, or with skip-nonfinite-steps drops the batch
/// without touching the weights and finishes.
final class NonFiniteStepTests: XCTestCase {
    func run(skip: Int) throws -> (events: [TrainingEvent], adapter: LoRAAdapter, run: URL) {
        let run = try TestModels.temporaryDirectory("nonfinite")
        let model = try ModelLoader.loadNetwork(folder: TestModels.llamaFixtures.appendingPathComponent("tiny_llama"))
        let embedding = model.parameter("model.embed_tokens.weight")
        var e = embedding.value.copied()
        e.withUnsafeMutableFloats { p in for i in (5 * 64)..<(6 * 64) { p[i] = .nan } }
        embedding.value = e
        // Four examples, one of them holding token 5.
        let rows = [[10, 11, 12, 13, 14, 15], [20, 21, 5, 22, 23, 24], [30, 31, 32, 33, 34, 35], [40, 41, 42, 43, 44, 45]]
        let data = try Dataset(examples: rows.map { TokenizedExample(tokens: $0, targetMask: [false] + Array(repeating: true, count: $0.count - 1)) },
                               options: DatasetOptions(maxSequenceLength: 16))
        var c = TrainingConfiguration()
        c.lora = LoRAConfiguration(rank: 4, alpha: 8, targets: ["q_proj", "v_proj"])
        c.maxSteps = 4
        c.batchSize = 1
        c.saveEvery = 1
        c.seed = 3
        c.skipNonFiniteSteps = skip
        let adapter = try LoRAAdapter.create(for: model, configuration: c.lora, seed: c.seed)
        try adapter.attach(to: model)
        let trainer = try Trainer(model: model, adapter: adapter, configuration: c, train: try BatchIterator(dataset: data, batchSize: 1, seed: c.seed),
                                  validation: [], runDirectory: run, baseModelName: "tiny")
        var events: [TrainingEvent] = []
        do {
            _ = try trainer.run(resumeFrom: nil, shouldStop: { false }) { events.append($0) }
        } catch {
            try? FileManager.default.removeItem(at: run)
            throw error
        }
        return (events, adapter, run)
    }

    func testANaNLossStopsTheRunNamingTheStepAndTheLastCheckpoint() throws {
        XCTAssertThrowsError(try run(skip: 0)) { error in
            guard case let .nonFinite(step, cause, skipped, _)? = error as? TrainingError else { return XCTFail("\(error)") }
            XCTAssertGreaterThanOrEqual(step, 1)
            XCTAssertTrue(cause.contains("loss is nan"), cause)
            XCTAssertEqual(skipped, 0)
            XCTAssertTrue("\(error)".contains("--skip-nonfinite-steps"), "\(error)")
            if step > 1 { XCTAssertTrue("\(error)".contains("step-\(String(format: "%07d", step - 1))"), "\(error)") }
        }
    }

    func testSkippedStepsLeaveTheWeightsFiniteAndTheRunFinishes() throws {
        let (events, adapter, run) = try run(skip: 2)
        defer { try? FileManager.default.removeItem(at: run) }
        let skips = events.filter { if case .skipped = $0 { true } else { false } }.count
        let steps = events.filter { if case .step = $0 { true } else { false } }.count
        XCTAssertTrue((1...2).contains(skips), "\(skips) skipped")
        XCTAssertEqual(steps, 4)
        for p in adapter.parameters { XCTAssertTrue(p.value.floats.allSatisfy(\.isFinite), p.name) }
    }
}
