// A training run and the folder it owns: settings resolved (and, resuming, taken from the
// checkpoint first), the memory check against the optimizer it will really use, the model and
// data loaded, the Trainer driven to the end or to a requested stop, metrics and checkpoints
// written as it goes, and the result exported (PEFT adapter or model folder) with its report.
// Progress leaves as `TrainingRun.Event`s; the caller prints them.
import Foundation
import TensorCore
import ModelFormats
import Llama

/// A fine-tuning run over one model, one dataset and one run folder.
public final class TrainingRun {
    /// The key of a saved config.json that records the base model (not a setting).
    public static let baseModelKey = "base-model"

    /// The files of a run folder.
    public struct Layout: Sendable, Equatable {
        /// The run folder.
        public let root: URL
        /// Creates the layout of the run folder `root`.
        public init(root: URL) { self.root = root }
        /// The resolved settings (config.json).
        public var configuration: URL { root.appendingPathComponent("config.json") }
        /// One JSON record per step and evaluation (metrics.jsonl).
        public var metrics: URL { root.appendingPathComponent("metrics.jsonl") }
        /// The self-contained HTML report.
        public var report: URL { root.appendingPathComponent("report.html") }
        /// Checkpoint folders (step-NNNNNNN).
        public var checkpoints: URL { root.appendingPathComponent("checkpoints") }
        /// The trained adapter in the PEFT layout (LoRA and QLoRA).
        public var adapter: URL { root.appendingPathComponent("adapter") }
        /// The fully fine-tuned model as a Hugging Face folder.
        public var model: URL { root.appendingPathComponent("model") }
        /// The tokenized splits (TokenCache).
        public var tokenized: URL { root.appendingPathComponent("tokenized") }

        /// What a new run would overwrite: the restorable parts of an earlier run in the folder
        /// (checkpoints, adapter, model). A folder left by a run that died before its first
        /// checkpoint holds only settings and metrics, and may be started again.
        public var existingRun: [String] {
            var found = [adapter, model].filter { FileManager.default.fileExists(atPath: $0.path) }.map(\.lastPathComponent)
            if !Checkpoint.all(run: root).isEmpty { found.insert(checkpoints.lastPathComponent, at: 0) }
            return found
        }

        /// Throws before anything is loaded or written when a new run here would overwrite an
        /// earlier one (start with resume, or choose another folder), or when the folder cannot be
        /// created or written (a probe file is made and removed in its nearest existing parent).
        public func checkFresh() throws {
            let found = existingRun
            guard found.isEmpty else {
                throw TrainingError.invalidCheckpoint(path: root.path, reason: "already holds a run (\(found.joined(separator: ", "))); "
                    + "continue it with --resume, or choose another --out. Nothing was changed")
            }
            var dir = root
            while !FileManager.default.fileExists(atPath: dir.path), dir.pathComponents.count > 1 { dir.deleteLastPathComponent() }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw TrainingError.invalidCheckpoint(path: root.path, reason: "cannot be created: \(dir.path) is not a folder")
            }
            let probe = dir.appendingPathComponent(".lorikeet-write-probe-\(getpid())")
            guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
                throw TrainingError.invalidCheckpoint(path: root.path, reason: "cannot be written: \(dir.path) is not writable")
            }
            try? FileManager.default.removeItem(at: probe)
        }
    }

    /// Where the model comes from.
    public enum ModelInput {
        /// A model folder or GGUF file, inspected once.
        case source(ModelSource)
        /// A named shape with seeded random weights (benchmarks of big shapes).
        case random(LlamaConfiguration, name: String)
    }

    /// Where the training batches come from.
    public enum DataInput {
        /// A folder with train.jsonl [valid.jsonl], or one .jsonl file.
        case path(String)
        /// Ready batches (benchmarks, tests), with optional validation batches.
        case batches(any BatchStream, validation: [TrainingBatch])
    }

    /// Which checkpoint to continue from.
    public enum Resume: Sendable, Equatable {
        /// A fresh run.
        case none
        /// The newest complete checkpoint of the run folder.
        case latest
        /// This checkpoint folder.
        case checkpoint(URL)
    }

    /// What a run reports while it goes.
    public enum Event: Sendable {
        /// The model is loaded.
        case modelLoaded(path: String, format: ModelSource.Format?, seconds: Double)
        /// Something the user should know that does not stop the run.
        case note(String)
        /// The training data is read; `cached` is the token-cache folder it came from, nil when tokenized now.
        case dataLoaded(train: DatasetStats, valid: DatasetStats?, maxSequenceLength: Int, cached: URL?)
        /// The trainer's own events (plan, steps, evaluations, checkpoints).
        case training(TrainingEvent)
    }

    /// How a run ended.
    public struct Result: Sendable {
        /// The trainer's outcome (steps, losses, whether it was interrupted).
        public var outcome: TrainingOutcome
        /// The exported adapter or model folder (nil when interrupted or not exporting).
        public var output: URL?
        /// The headline figures (nil when interrupted or not exporting).
        public var summary: RunSummary?
        /// The metrics of the whole run, as written.
        public var records: [MetricRecord]
        /// The trained network (the adapter attached for LoRA/QLoRA).
        public var network: LlamaModel
        /// The network with its tokenizer and chat template (nil for random weights).
        public var loaded: LoadedModel?
        /// The trained adapter (LoRA/QLoRA).
        public var adapter: LoRAAdapter?
    }

    /// The run folder's files.
    public let layout: Layout
    /// The resolved settings this run trains with.
    public let configuration: TrainingConfiguration
    /// The checkpoint this run continues from, if any, already checked against its manifest.
    public let resumeCheckpoint: URL?
    /// Why newer checkpoints were passed over when resuming from the latest (sent as notes when the run starts).
    public private(set) var resumeWarnings: [String] = []
    /// Whether checkpoints, metrics, the export and the report are written (off for benchmarks).
    public let writesArtifacts: Bool
    /// The processes training together (`ProcessGroup.fromEnvironment()` under mpirun): each
    /// runs this same run; rank 0 alone writes the run folder, the others only read it to resume.
    public var group: ProcessGroup = .single
    let model: ModelInput
    let data: DataInput
    let dataName: String

    /// Prepares a run in `directory`. Settings are resolved in one order — the checkpoint's
    /// saved settings when resuming, then `file`, then `commandLine` — and validated once. A
    /// QLoRA run over a bitsandbytes 4-bit folder trains on its codes (`quant: keep`).
    public convenience init(model: ModelInput, data: DataInput, directory: URL, file: TrainingSettings? = nil,
                            commandLine: TrainingSettings? = nil, resume: Resume = .none, writesArtifacts: Bool = true) throws {
        try self.init(model: model, data: data, directory: directory, resume: resume, writesArtifacts: writesArtifacts) { saved in
            let c = try TrainingConfiguration.resolve(savedRun: saved, file: file, commandLine: commandLine)
            // Where `quant` was set, if anywhere (a 4-bit folder then has to agree with it).
            let quant = TrainingConfiguration.CodingKeys.quantization.rawValue
            return (c, [saved, file, commandLine].last { $0?.values[quant] != nil }??.location(of: quant))
        }
    }

    /// Prepares a run in `directory` with `configuration` as given (validated); resuming
    /// continues from the checkpoint's weights, optimizer state and data position.
    public convenience init(model: ModelInput, data: DataInput, directory: URL, configuration: TrainingConfiguration,
                            resume: Resume = .none, writesArtifacts: Bool = true) throws {
        try configuration.validate()
        try self.init(model: model, data: data, directory: directory, resume: resume, writesArtifacts: writesArtifacts) { _ in
            (configuration, configuration.quantization == .keep ? nil : "the configuration")
        }
    }

    init(model: ModelInput, data: DataInput, directory: URL, resume: Resume, writesArtifacts: Bool,
         configure: (TrainingSettings?) throws -> (TrainingConfiguration, quantSetBy: String?)) throws {
        layout = Layout(root: directory)
        self.model = model
        self.data = data
        self.writesArtifacts = writesArtifacts
        switch data {
        case let .path(p): dataName = p
        case .batches: dataName = "batches"
        }
        var saved: TrainingSettings?
        switch resume {
        case .none:
            resumeCheckpoint = nil
            if writesArtifacts { try layout.checkFresh() }
        case .latest:
            // The newest checkpoint whose files match their manifest; damaged newer ones are skipped.
            let (intact, rejected) = Checkpoint.latestIntact(run: directory)
            guard let latest = intact else {
                if let (url, error) = rejected.first {
                    throw TrainingError.invalidCheckpoint(path: url.path, reason: "no intact checkpoint to resume from; the newest: \(error)")
                }
                throw TrainingError.invalidCheckpoint(path: layout.checkpoints.path, reason: "holds no checkpoint to resume from")
            }
            resumeCheckpoint = latest
            resumeWarnings = rejected.map { "skipping damaged checkpoint \($0.0.lastPathComponent): \($0.1); resuming from \(latest.lastPathComponent)" }
        case let .checkpoint(url):
            try Checkpoint.verify(url)
            resumeCheckpoint = url
        }
        if let checkpoint = resumeCheckpoint {
            // The run's own settings first, so the continuation is the same computation.
            let url = checkpoint.appendingPathComponent(Checkpoint.configFile)
            guard let bytes = FileManager.default.contents(atPath: url.path) else {
                throw TrainingError.invalidCheckpoint(path: url.path, reason: "missing or unreadable")
            }
            saved = try TrainingSettings(savedRun: bytes, path: url.path)
        }
        var (c, quantSetBy) = try configure(saved)
        if case let .source(source) = model, c.method == .qlora, let folder = source.fourBitFolder {
            let asked = c.quantization
            if let quantSetBy, asked != .keep, asked.rawValue != folder.type.rawValue {
                throw TrainingError.invalidSetting(key: "quant", source: quantSetBy, reason: "asks for \(asked.rawValue.uppercased()) but "
                    + "\(source.path) is already quantized to \(folder.type.rawValue.uppercased()); train on it with quant keep "
                    + "(or \(folder.type.rawValue)), or start from the unquantized model")
            }
            c.quantization = .keep
        }
        if case .random = model {
            if c.method == .full && writesArtifacts {
                throw TrainingError.invalidSetting(key: "method", source: nil, reason: "full needs a model with a tokenizer to export; random weights have none")
            }
            if case .path = data { throw TrainingError.noData("a dataset needs a model with a tokenizer, not random weights") }
        }
        configuration = c
    }

    /// The model's shape and how its weights are stored, without loading it.
    var shape: (LlamaConfiguration, BaseStorage) {
        switch model {
        case let .source(s): (s.configuration, BaseStorage(s))
        case let .random(c, _): (c, .ownedF32)
        }
    }

    // MARK: Memory

    /// The estimated peak memory of this run with its method and optimizer.
    public func memoryEstimate(_ c: TrainingConfiguration? = nil) -> MemoryEstimate {
        let s = c ?? configuration
        let (config, storage) = shape
        return MemoryEstimator.estimate(configuration: config, method: s.fineTuningMethod, lora: s.lora, batchSize: s.batchSize,
                                        sequenceLength: min(s.maxSequenceLength, config.maxPositions),
                                        gradientCheckpointing: s.gradientCheckpointing, baseStorage: storage,
                                        optimizer: s.optimizerChoice, gradientAccumulation: s.gradientAccumulation,
                                        bf16Unquantized: s.bf16Base, worldSize: group.size,
                                        shardedOptimizerState: s.shardOptimizerState)
    }

    /// Throws `TrainingError.insufficientMemory` (with its estimate by component and settings
    /// that would fit) when the estimate exceeds `available` bytes.
    public func checkMemory(available: Int) throws {
        let e = memoryEstimate()
        guard e.required > available else { return }
        let s = configuration
        var advice: [MemoryAdvice] = []
        func tip(_ changes: [(String, String?)], _ change: (inout TrainingConfiguration) -> Void) {
            var t = s
            change(&t)
            advice.append(MemoryAdvice(changes: changes.map { MemoryAdvice.Change(key: $0.0, value: $0.1) },
                                       requiredBytes: memoryEstimate(t).required))
        }
        if s.method != .qlora { tip([("method", "qlora")]) { $0.fineTuningMethod = .qlora(.nf4) } }
        if !s.gradientCheckpointing { tip([("grad-checkpoint", nil)]) { $0.gradientCheckpointing = true } }
        if s.batchSize > 1 {
            let accumulation = s.batchSize * s.gradientAccumulation
            tip([("batch-size", "1"), ("grad-accumulation", "\(accumulation)")]) { $0.gradientAccumulation = accumulation; $0.batchSize = 1 }
        }
        let breakdown = MemoryComponent.allCases.filter { e.bytesAtPeak($0) > 0 }.map { ($0.rawValue, e.bytesAtPeak($0)) }
        throw TrainingError.insufficientMemory(required: e.required, available: available, breakdown: breakdown, advice: advice)
    }

    // MARK: Running

    /// Loads the model and data, trains until the end or until `shouldStop` returns true after
    /// a step (then checkpoints), and exports the result. Events arrive on the calling thread.
    public func run(onEvent: (Event) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> Result {
        let c = configuration
        let t0 = Date()
        for warning in resumeWarnings { onEvent(.note(warning)) }
        let options = c.loadOptions()
        let network: LlamaModel
        var loaded: LoadedModel?
        let modelName: String
        switch model {
        case let .source(source):
            let l = try ModelLoader.load(source, options: options)
            (loaded, network, modelName) = (l, l.model, source.baseModelName)
            onEvent(.modelLoaded(path: source.path, format: source.format, seconds: Date().timeIntervalSince(t0)))
            if case let .qlora(.fourBit(type, _, _)) = c.fineTuningMethod, case let .ggml(_, linear?) = source.storage, linear.isQuantized {
                onEvent(.note("the GGUF's linears are already \(linear) blocks; re-quantizing them to \(type.rawValue.uppercased()) "
                    + "rounds twice (SmolLM2 Q4_1 → NF4: base validation loss +6 % on examples/veloria). quant keep trains on the file's own blocks."))
            }
        case let .random(config, name):
            network = try LlamaModel.random(config, seed: 0, linearQuantizer: options.linearQuantizer,
                                            unquantizedDType: options.unquantizedDType)
            modelName = name
            onEvent(.modelLoaded(path: name, format: nil, seconds: Date().timeIntervalSince(t0)))
        }
        BlockCache.shared.purge()
        BlockCache.shared.limit = BlockCache.limit(fullFineTuning: c.fineTuningMethod == .full)

        let stream: any BatchStream
        let validation: [TrainingBatch]
        switch data {
        case let .path(path):
            guard let loaded else { throw TrainingError.noData("a dataset needs a model with a tokenizer, not random weights") }
            let dataOptions = DatasetOptions(maxSequenceLength: min(c.maxSequenceLength, network.configuration.maxPositions),
                                             trainOnInputs: c.trainOnInputs, packing: c.packing)
            let cache = c.tokenCache && writesArtifacts
                ? try TokenCache(folder: layout.tokenized, model: loaded, writes: group.isLeader) : nil
            let splits = try DatasetSplits.load(path: path, model: loaded, options: dataOptions, cache: cache)
            onEvent(.dataLoaded(train: splits.train.stats, valid: splits.valid?.stats, maxSequenceLength: dataOptions.maxSequenceLength,
                                cached: splits.train.cachedAt))
            stream = try BatchIterator(dataset: splits.train, batchSize: c.batchSize, seed: c.seed, paddingFree: c.paddingFree,
                                       tokenBudget: c.batchTokens)
            validation = try splits.valid.map {
                try $0.evaluationBatches(batchSize: c.batchSize, paddingFree: c.paddingFree, tokenBudget: c.batchTokens)
            } ?? []
        case let .batches(s, v):
            (stream, validation) = (s, v)
        }

        var adapter: LoRAAdapter?
        if c.method.usesAdapter {
            if let checkpoint = resumeCheckpoint {
                adapter = try LoRAAdapter.load(from: checkpoint.appendingPathComponent(Checkpoint.adapterFolder), for: network, trainable: true)
            } else {
                adapter = try LoRAAdapter.create(for: network, configuration: c.lora, seed: c.seed)
            }
            try adapter!.attach(to: network)
        }
        let trainer = try Trainer(model: network, adapter: adapter, configuration: c, train: stream, validation: validation,
                                  runDirectory: layout.root, baseModelName: modelName, checkpoints: writesArtifacts, group: group)
        guard writesArtifacts && group.isLeader else {
            let outcome = try trainer.run(resumeFrom: resumeCheckpoint, resumeVerified: true, shouldStop: shouldStop) { onEvent(.training($0)) }
            return Result(outcome: outcome, output: nil, summary: nil, records: [], network: network, loaded: loaded, adapter: adapter)
        }
        try FileManager.default.createDirectory(at: layout.root, withIntermediateDirectories: true)
        try AtomicFile.write(try c.savedJSON(baseModel: modelName), to: layout.configuration)
        let metrics = try openMetrics()
        let outcome = try trainer.run(resumeFrom: resumeCheckpoint, resumeVerified: true, shouldStop: shouldStop) { event in
            switch event {
            case let .step(r):
                try? metrics.append(MetricRecord(step: r.step, epoch: Double(r.epoch), kind: MetricRecord.train, loss: r.loss,
                                                 learningRate: Double(r.learningRate), tokensPerSecond: r.tokensPerSecond,
                                                 elapsedSeconds: r.elapsedSeconds, peakRSSBytes: r.peakRSSBytes,
                                                 gradientNorm: Double(r.gradientNorm)))
            case let .evaluation(step, loss, _):
                try? metrics.append(MetricRecord(step: step, kind: MetricRecord.valid, loss: loss, elapsedSeconds: 0))
            case .started, .checkpoint, .skipped: break
            }
            onEvent(.training(event))
        }
        try? metrics.synchronize()
        let records = (try? MetricsLog.read(from: layout.metrics)) ?? []
        if outcome.interrupted {
            return Result(outcome: outcome, output: nil, summary: nil, records: records, network: network, loaded: loaded, adapter: adapter)
        }

        let output: URL
        if let adapter {
            output = layout.adapter
            try adapter.save(to: output, baseModel: modelName)
        } else {
            output = layout.model
            guard let loaded else { throw TrainingError.noData("a model built from random weights has no tokenizer to export with") }
            try ModelExport.writeFolder(weights: network.parameters.mapValues(\.value), configuration: network.configuration,
                                        source: loaded, to: output)
        }
        let summary = RunSummary(
            title: layout.root.lastPathComponent, model: modelName, method: c.fineTuningMethod.displayName, dataset: dataName,
            date: t0, steps: outcome.steps,
            epochs: Double(outcome.steps * c.gradientAccumulation) / Double(max(1, stream.batchesPerEpoch)),
            trainableParameters: trainer.parameterSummary.trainable, totalParameters: trainer.parameterSummary.total,
            finalTrainLoss: outcome.lastTrainLoss, finalValidLoss: outcome.lastValidLoss, bestValidLoss: outcome.bestValidLoss,
            tokensPerSecond: Double(outcome.tokensSeen) / max(outcome.elapsedSeconds, 1e-9), peakRSSBytes: MemoryStats.peakResidentBytes,
            wallSeconds: outcome.elapsedSeconds, outputPath: output.path, reportPath: layout.report.path,
            settings: c.settings.map { RunSummary.Setting($0.key, $0.value.description) })
        try AtomicFile.write(Data(TrainingReport.html(records: records, summary: summary).utf8), to: layout.report)
        return Result(outcome: outcome, output: output, summary: summary, records: records, network: network, loaded: loaded, adapter: adapter)
    }

    /// The metrics log: a fresh one, or, resuming, the records up to the checkpoint's step
    /// (the steps after it run again).
    func openMetrics() throws -> MetricsLog {
        guard let checkpoint = resumeCheckpoint else { return try MetricsLog(url: layout.metrics, truncate: true) }
        let statePath = checkpoint.appendingPathComponent(Checkpoint.stateFile)
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: statePath)) } catch {
            throw TrainingError.invalidCheckpoint(path: statePath.path, reason: "unreadable: \(error)")
        }
        let kept = ((try? MetricsLog.read(from: layout.metrics)) ?? []).filter { $0.step <= state.step }
        // Replaced in one rename: a run killed here keeps the old file whole (never a truncated one).
        try AtomicFile.write(try MetricsLog.lines(kept), to: layout.metrics)
        return try MetricsLog(url: layout.metrics)
    }
}
