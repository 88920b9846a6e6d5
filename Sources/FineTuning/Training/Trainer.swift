// The training loop: micro-batches with gradient accumulation (the loss is normalised by
// the target tokens of the whole accumulation group, so accumulating equals one big batch),
// shared among the ranks of a ProcessGroup under MPI (rank r computes its run of each step's
// micro-batches and the gradients are summed, so N ranks equal one process accumulating N×),
// global-norm clipping, AdamW with a warmup schedule, periodic evaluation and checkpoints,
// and a clean stop on request. Deterministic for a seed: dropout masks derive from (seed,
// step, micro-batch) and the data order from the batch stream's cursor.
import Foundation
import TensorCore
import Llama

/// A source of training batches that can be rewound to a saved position.
public protocol BatchStream {
    /// Batches in one epoch.
    var batchesPerEpoch: Int { get }
    /// The next batch and the epoch it belongs to (epochs follow each other forever).
    mutating func next() -> (batch: TrainingBatch, epoch: Int)
    /// The current position, opaque to the trainer.
    var cursor: Data { get }
    /// Rewinds or fast-forwards to a saved position.
    mutating func restore(_ cursor: Data) throws
}

/// What the trainer reports while it runs.
public enum TrainingEvent: Sendable {
    /// Before the first step: the plan.
    case started(totalSteps: Int, startStep: Int, parameters: ParameterSummary)
    /// After each optimizer update.
    case step(StepReport)
    /// After an evaluation on the validation set.
    case evaluation(step: Int, loss: Double, tokens: Int)
    /// After a checkpoint was written.
    case checkpoint(step: Int, url: URL)
    /// A batch whose loss or gradients were not finite was skipped (no update) before `step`.
    case skipped(step: Int, cause: String)
}

/// One optimizer update, as reported.
public struct StepReport: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// Mean loss per target token over the update's micro-batches.
    public var loss: Double
    public var learningRate: Float
    public var gradientNorm: Float
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    public var etaSeconds: Double
    public var peakRSSBytes: Int?
    /// Processes training together (tokens per second counts all of them).
    public var worldSize = 1
    /// Seconds this step spent in collective calls (all-reduce, gathers); 0 for one process.
    public var communicationSeconds = 0.0
}

/// How a run ended.
public struct TrainingOutcome: Sendable {
    /// Updates completed.
    public var steps: Int
    /// True when the run stopped early on request (a checkpoint was written first).
    public var interrupted: Bool
    public var lastTrainLoss: Double?
    public var lastValidLoss: Double?
    public var bestValidLoss: Double?
    public var tokensSeen: Int
    public var elapsedSeconds: Double
    /// The last checkpoint written.
    public var checkpoint: URL?
}

/// Trains a model's adapter (LoRA) or all its weights (full).
public final class Trainer {
    public let model: LlamaModel
    public let adapter: LoRAAdapter?
    public let configuration: TrainingConfiguration
    public let runDirectory: URL
    /// Name recorded as base_model_name_or_path in adapter files.
    public let baseModelName: String
    /// Parameters that train, in a fixed order.
    public let trainable: [Parameter]
    /// Whether this process writes checkpoints (at `saveEvery`, at the end and on a stop): rank 0 only.
    public let writesCheckpoints: Bool
    /// The processes training together (`.single` for one).
    public let group: ProcessGroup
    let checkpointsEnabled: Bool
    let optimizer: any Optimizer
    let parallel: DataParallel
    var stream: any BatchStream
    let validation: [TrainingBatch]

    /// Prepares a run. For LoRA the adapter must be attached to the model already; for full
    /// fine-tuning every weight is made trainable (f32) except frozen embeddings. Without
    /// `checkpoints` nothing is written (benchmarks). Every rank of `group` runs its own
    /// Trainer over the same stream; only rank 0 writes.
    public init(model: LlamaModel, adapter: LoRAAdapter?, configuration: TrainingConfiguration, train: any BatchStream,
                validation: [TrainingBatch], runDirectory: URL, baseModelName: String, checkpoints: Bool = true,
                group: ProcessGroup = .single) throws {
        try configuration.validate()
        guard train.batchesPerEpoch > 0 else { throw TrainingError.noData("the training set makes no batches") }
        self.model = model
        self.adapter = adapter
        self.configuration = configuration
        self.runDirectory = runDirectory
        self.baseModelName = baseModelName
        stream = train
        self.validation = validation
        self.group = group
        checkpointsEnabled = checkpoints
        writesCheckpoints = checkpoints && group.isLeader
        optimizer = try configuration.optimizerChoice.make(configuration.adamW, stateDirectory: runDirectory)
        switch configuration.method {
        case .lora, .qlora:
            guard let adapter else { throw TrainingError.invalidSetting(key: "method", source: nil, reason: "\(configuration.method) needs an adapter") }
            for p in model.parameters.values { p.requiresGrad = false }
            trainable = adapter.parameters
            for p in trainable { p.requiresGrad = true }
        case .full:
            var list: [Parameter] = []
            for name in model.parameters.keys.sorted() {
                let p = model.parameters[name]!
                let frozen = configuration.freezeEmbeddings && (name == "model.embed_tokens.weight" || name == "lm_head.weight")
                p.requiresGrad = !frozen
                if !frozen {
                    if p.value.dtype != .f32 || p.value.isMapped { p.value = p.value.widened().copied() }
                    list.append(p)
                }
            }
            trainable = list
        }
        parallel = DataParallel(group: group, parameters: trainable, shardOptimizerState: configuration.shardOptimizerState)
    }

    /// Micro-batches taken from the stream per optimizer update: grad-accumulation × world size.
    public var microBatchesPerStep: Int { configuration.gradientAccumulation * group.size }

    /// Trainable and total parameter counts (PEFT's convention: total includes the adapter).
    public var parameterSummary: ParameterSummary {
        let base = model.configuration.parameterCount
        switch configuration.method {
        case .lora, .qlora: let t = adapter?.parameterCount ?? 0; return ParameterSummary(trainable: t, total: base + t)
        case .full: return ParameterSummary(trainable: trainable.reduce(0) { $0 + $1.value.count }, total: base)
        }
    }

    /// Total optimizer updates of the run.
    public var totalSteps: Int {
        if let m = configuration.maxSteps { return m }
        let perEpoch = (stream.batchesPerEpoch + microBatchesPerStep - 1) / microBatchesPerStep
        return max(1, perEpoch * configuration.epochs)
    }

    /// The configuration file saved with the run and its checkpoints.
    public func settingsJSON() throws -> Data { try configuration.savedJSON(baseModel: baseModelName) }

    /// Runs to the end (or until `shouldStop` returns true after a step, then checkpoints).
    /// With `resumeFrom`, weights, optimizer, step and data position come from that checkpoint,
    /// checked against its manifest first unless `resumeVerified` says the caller did. Products
    /// multiply in the configuration's `computeDType` throughout (evaluations included).
    public func run(resumeFrom: URL? = nil, resumeVerified: Bool = false, shouldStop: () -> Bool = { false },
                    onEvent: (TrainingEvent) -> Void = { _ in }) throws -> TrainingOutcome {
        try BLAS.withComputeDType(configuration.computeDType) {
            try runSteps(resumeFrom: resumeFrom, resumeVerified: resumeVerified, shouldStop: shouldStop, onEvent: onEvent)
        }
    }

    private func runSteps(resumeFrom: URL?, resumeVerified: Bool, shouldStop: () -> Bool,
                          onEvent: (TrainingEvent) -> Void) throws -> TrainingOutcome {
        let total = totalSteps
        let schedule = LearningRateSchedule(kind: configuration.schedule, peak: configuration.learningRate,
                                            warmupSteps: configuration.warmupSteps(total: total), totalSteps: total)
        var state = TrainerState(step: 0, epoch: 0, tokensSeen: 0, dataCursor: stream.cursor, bestValidLoss: nil,
                                 elapsedSeconds: 0, totalSteps: total, seed: configuration.seed)
        if let resumeFrom {
            state = try Checkpoint.restore(from: resumeFrom, trainable: trainable, optimizer: optimizer, isAdapter: adapter != nil,
                                           verified: resumeVerified)
            try stream.restore(state.dataCursor)
            if parallel.shards != nil, let adam = optimizer as? AdamW {
                // Sharded: keep the moments of this rank's parameters only.
                let own = Set(parallel.ownParameters.map(\.name))
                adam.restore(stepCount: adam.stepCount, moments: adam.moments.filter { own.contains($0.key) })
            }
        }
        if writesCheckpoints { try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true) }
        onEvent(.started(totalSteps: total, startStep: state.step, parameters: parameterSummary))
        let startTime = Date()
        let elapsedBefore = state.elapsedSeconds
        let startTokens = state.tokensSeen
        var outcome = TrainingOutcome(steps: state.step, interrupted: false, bestValidLoss: state.bestValidLoss,
                                      tokensSeen: state.tokensSeen, elapsedSeconds: state.elapsedSeconds)
        func checkpoint() throws {
            guard checkpointsEnabled else { return }
            // Sharded moments come together on rank 0 first (a collective: every rank calls it).
            var saving = optimizer
            if parallel.shards != nil, let adam = optimizer as? AdamW, let gathered = try parallel.gatheredOptimizer(adam) { saving = gathered }
            guard writesCheckpoints else { return }
            state.dataCursor = stream.cursor
            state.elapsedSeconds = elapsedBefore + Date().timeIntervalSince(startTime)
            let url = try Checkpoint.save(run: runDirectory, state: state, trainable: trainable, optimizer: saving,
                                          adapter: adapter, baseModel: baseModelName, settings: try settingsJSON(),
                                          keep: configuration.keepCheckpoints)
            outcome.checkpoint = url
            onEvent(.checkpoint(step: state.step, url: url))
        }
        var skipped = 0
        while state.step < total {
            let lr = schedule.rate(at: state.step)
            // Every rank draws the whole step's micro-batches (so all know the normaliser and the
            // token count) and computes its own run of them: rank r takes r·GA ..< (r+1)·GA.
            var batches: [TrainingBatch] = []
            for _ in 0..<microBatchesPerStep {
                let (batch, epoch) = stream.next()
                batches.append(batch)
                state.epoch = epoch
            }
            let normalizer = Float(max(1, batches.reduce(0) { $0 + $1.targetTokenCount }))
            let mine = (group.rank * configuration.gradientAccumulation)..<((group.rank + 1) * configuration.gradientAccumulation)
            let communicationBefore = group.communicationSeconds
            var loss = 0.0
            for micro in mine where batches[micro].targetTokenCount > 0 {
                let batch = batches[micro]
                let tape = Tape()
                let seed = configuration.seed &+ UInt64(state.step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(micro) &* 0xBF58_476D_1CE4_E5B9
                let options = ForwardOptions(gradientCheckpointing: configuration.gradientCheckpointing, segments: batch.segments,
                                             positions: batch.positions, dropoutSeed: seed)
                let l = try model.loss(tape, ids: batch.inputIDs, targets: batch.targets, batch: batch.batchSize,
                                       length: batch.length, normalizer: normalizer, options: options)
                loss += Double(tape.value(l).scalar)
                try tape.backward(l)
            }
            state.tokensSeen += batches.reduce(0) { $0 + $1.tokenCount }
            var scalars = [loss]
            try parallel.allReduce(scalars: &scalars)
            loss = scalars[0]
            // A NaN norm leaves the gradients unscaled; either way a non-finite step updates nothing.
            let norm = loss.isFinite
                ? measured("gradient norm and clip") {
                    clipGradientNorm(trainable, maxNorm: configuration.maxGradientNorm > 0 ? configuration.maxGradientNorm : .infinity)
                } : Float.nan
            if !loss.isFinite || !norm.isFinite {
                let cause = !loss.isFinite ? "the loss is \(loss)" : "the gradient norm is \(norm) (loss \(loss))"
                guard skipped < configuration.skipNonFiniteSteps else {
                    throw TrainingError.nonFinite(step: state.step + 1, cause: cause, skipped: skipped,
                                                  lastCheckpoint: outcome.checkpoint?.path ?? Checkpoint.latest(run: runDirectory)?.path)
                }
                for p in trainable { p.zeroGrad() }
                skipped += 1
                onEvent(.skipped(step: state.step + 1, cause: cause))
                continue
            }
            measured("optimizer") { optimizer.step(parallel.ownParameters, learningRate: lr) }
            try parallel.gatherWeights()
            measured("free gradients") { for p in trainable { p.zeroGrad() } }
            state.step += 1
            let elapsed = Date().timeIntervalSince(startTime)
            let rate = Double(state.tokensSeen - startTokens) / max(elapsed, 1e-9)
            let perStep = elapsed / Double(max(1, state.step - (outcome.steps)))
            onEvent(.step(StepReport(step: state.step, totalSteps: total, epoch: state.epoch, loss: loss, learningRate: lr,
                                     gradientNorm: norm, tokensPerSecond: rate, elapsedSeconds: elapsedBefore + elapsed,
                                     etaSeconds: perStep * Double(total - state.step), peakRSSBytes: MemoryStats.peakResidentBytes,
                                     worldSize: group.size, communicationSeconds: group.communicationSeconds - communicationBefore)))
            outcome.lastTrainLoss = loss
            let last = state.step == total
            if !validation.isEmpty && ((configuration.evalEvery > 0 && state.step % configuration.evalEvery == 0) || last) {
                let (v, tokens) = try evaluate()
                outcome.lastValidLoss = v
                state.bestValidLoss = min(state.bestValidLoss ?? .infinity, v)
                onEvent(.evaluation(step: state.step, loss: v, tokens: tokens))
            }
            let saved = (configuration.saveEvery > 0 && state.step % configuration.saveEvery == 0) || last
            if saved { try checkpoint() }
            if !last, try group.any(shouldStop()) {  // decided together, so every rank stops at the same step
                if !saved { try checkpoint() }
                outcome.interrupted = true
                break
            }
        }
        outcome.steps = state.step
        outcome.bestValidLoss = state.bestValidLoss
        outcome.tokensSeen = state.tokensSeen
        outcome.elapsedSeconds = elapsedBefore + Date().timeIntervalSince(startTime)
        return outcome
    }

    /// `body`, its time charged to `name` in `Tape.profile` when one is set.
    private func measured<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        guard let profile = Tape.profile else { return try body() }
        return try profile.measure(name, body)
    }

    /// Mean loss per target token over the validation batches (no dropout, no gradients); with
    /// several ranks each evaluates every size-th batch and the sums are reduced.
    public func evaluate() throws -> (loss: Double, tokens: Int) {
        try BLAS.withComputeDType(configuration.computeDType) { try evaluateBatches() }
    }

    private func evaluateBatches() throws -> (loss: Double, tokens: Int) {
        var sum = 0.0
        var tokens = 0
        for (i, batch) in validation.enumerated() where batch.targetTokenCount > 0 && i % group.size == group.rank {
            let tape = Tape(recordsGradients: false)
            let l = try model.loss(tape, ids: batch.inputIDs, targets: batch.targets, batch: batch.batchSize, length: batch.length,
                                   normalizer: 1, options: ForwardOptions(segments: batch.segments, positions: batch.positions))
            sum += Double(tape.value(l).scalar)
            tokens += batch.targetTokenCount
        }
        var totals = [sum, Double(tokens)]
        try group.allReduceSum(&totals)
        (sum, tokens) = (totals[0], Int(totals[1]))
        return (sum / Double(max(tokens, 1)), tokens)
    }
}
