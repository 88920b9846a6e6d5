// `lorikeet train`: fine-tune a model with LoRA or full fine-tuning on a JSONL dataset.
// Settings come from defaults, then --config FILE (YAML, keys = flag names), then flags;
// the resolved configuration is saved in the run folder. Ctrl-C saves a checkpoint and exits.
import ArgumentParser
import Foundation
import Yams
import TensorCore
import Llama
import FineTuning
import ModelFormats

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model (LoRA or full) on a JSONL dataset.",
        discussion: """
        DATA is a folder with train.jsonl (and optional valid.jsonl) or a single .jsonl file. Lines are
        {"text"}, {"prompt","completion"}, {"messages":[…]} (rendered with the model's chat template) or
        alpaca {"instruction","input","output"}. The adapter lands in RUN/adapter (PEFT layout), a fully
        fine-tuned model in RUN/model; checkpoints in RUN/checkpoints, metrics in RUN/metrics.jsonl and a
        report in RUN/report.html.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "Training data: a folder with train.jsonl [valid.jsonl] or a .jsonl file.") var data: String
    @Option(help: "The run folder.") var out: String = "runs/lorikeet"
    @Option(help: "A YAML file of settings (keys are these flag names).") var config: String?
    @Flag(help: "Continue from the newest checkpoint in the run folder.") var resume = false
    @Option(name: .customLong("resume-from"), help: "Continue from this checkpoint folder.") var resumeFrom: String?
    @Flag(help: "Print nothing but errors and the final summary line.") var quiet = false
    @Flag(name: .customLong("ignore-memory-check"), help: "Train even when the estimate says the run will not fit in available memory.")
    var ignoreMemoryCheck = false
    @OptionGroup var compute: ComputeOptions

    @Option(help: "lora, qlora or full.") var method: String?
    @Option(help: "QLoRA base encoding: nf4 (default), fp4, or keep (a GGUF's own quantized blocks, or a bitsandbytes 4-bit folder's codes).") var quant: String?
    @Option(help: "QLoRA nf4/fp4: weights per absmax block (32…4096, default 64).") var blocksize: Int?
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "QLoRA nf4/fp4: quantize the absmax values too (default on).") var doubleQuant: Bool?
    @Flag(name: .customLong("bf16-base"), inversion: .prefixedNo, help: "LoRA/QLoRA: hold the frozen embeddings, head and norms in bf16 (default off).") var bf16Base: Bool?
    @Option(help: "LoRA rank r.") var rank: Int?
    @Option(help: "LoRA alpha (scale = alpha / r).") var alpha: Double?
    @Option(help: "LoRA dropout.") var dropout: Double?
    @Option(help: "Modules to adapt: comma list of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or all-linear.") var targets: String?
    @Option(help: "Only these decoder layers (comma list).") var layers: String?
    @Option(name: .customLong("rank-pattern"), help: "Per-module ranks, e.g. down_proj=4,o_proj=8.") var rankPattern: String?
    @Option(name: .customLong("alpha-pattern"), help: "Per-module alphas, e.g. o_proj=32.") var alphaPattern: String?
    @Flag(name: .customLong("use-rslora"), help: "Scale by alpha/√r (rsLoRA).") var useRSLoRA = false
    @Option(name: .customLong("lora-init"), help: "kaiming (PEFT default) or gaussian.") var loraInit: String?
    @Option(help: "adamw (32-bit moments) or adamw8bit (8-bit blockwise moments).") var optimizer: String?
    @Flag(name: .customLong("optimizer-state-on-disk"), help: "Keep AdamW's moments in a memory-mapped file the OS can page out.")
    var optimizerStateOnDisk = false
    @Option(name: .customLong("learning-rate"), help: "Peak learning rate.") var learningRate: Double?
    @Option(help: "AdamW beta1.") var beta1: Double?
    @Option(help: "AdamW beta2.") var beta2: Double?
    @Option(help: "AdamW epsilon.") var eps: Double?
    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay.") var weightDecay: Double?
    @Option(name: .customLong("lr-schedule"), help: "constant, linear or cosine.") var lrSchedule: String?
    @Option(help: "Warmup: steps (≥ 1) or a fraction of all steps (< 1).") var warmup: Double?
    @Option(name: .customLong("grad-accumulation"), help: "Micro-batches per optimizer step.") var gradAccumulation: Int?
    @Option(name: .customLong("max-grad-norm"), help: "Clip the global gradient norm (0 = off).") var maxGradNorm: Double?
    @Flag(name: .customLong("grad-checkpoint"), help: "Recompute each block in backward to save memory.") var gradCheckpoint = false
    @Option(help: "Epochs over the training set.") var epochs: Int?
    @Option(name: .customLong("max-steps"), help: "Stop after this many optimizer steps.") var maxSteps: Int?
    @Option(name: .customLong("batch-size"), help: "Examples per micro-batch.") var batchSize: Int?
    @Option(name: .customLong("max-seq-length"), help: "Truncate examples to this many tokens.") var maxSeqLength: Int?
    @Flag(help: "Pack examples into full-length rows (attention stays within an example).") var packing = false
    @Flag(name: .customLong("train-on-inputs"), help: "Also train on prompt / user tokens.") var trainOnInputs = false
    @Option(help: "Seed of initialisation, shuffling and dropout.") var seed: Int?
    @Option(name: .customLong("save-every"), help: "Checkpoint every N steps (0 = at the end only).") var saveEvery: Int?
    @Option(name: .customLong("eval-every"), help: "Evaluate every N steps (0 = at the end only).") var evalEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints to keep.") var keepCheckpoints: Int?
    @Flag(name: .customLong("freeze-embeddings"), help: "Full fine-tuning: keep the embeddings frozen.") var freezeEmbeddings = false

    /// Flags given on the command line, as (key, value) in flag names.
    var flagSettings: [(String, Any)] {
        var s: [(String, Any)] = []
        func add(_ k: String, _ v: Any?) { if let v { s.append((k, v)) } }
        add("method", method); add("quant", quant); add("blocksize", blocksize); add("double-quant", doubleQuant); add("bf16-base", bf16Base); add("rank", rank); add("alpha", alpha); add("dropout", dropout); add("targets", targets)
        add("layers", layers); add("rank-pattern", rankPattern); add("alpha-pattern", alphaPattern)
        if useRSLoRA { add("use-rslora", true) }
        add("lora-init", loraInit); add("optimizer", optimizer); if optimizerStateOnDisk { add("optimizer-state-on-disk", true) }; add("learning-rate", learningRate); add("beta1", beta1); add("beta2", beta2); add("eps", eps)
        add("weight-decay", weightDecay); add("lr-schedule", lrSchedule); add("warmup", warmup)
        add("grad-accumulation", gradAccumulation); add("max-grad-norm", maxGradNorm)
        if gradCheckpoint { add("grad-checkpoint", true) }
        add("epochs", epochs); add("max-steps", maxSteps); add("batch-size", batchSize); add("max-seq-length", maxSeqLength)
        if packing { add("packing", true) }
        if trainOnInputs { add("train-on-inputs", true) }
        add("seed", seed); add("save-every", saveEvery); add("eval-every", evalEvery); add("keep-checkpoints", keepCheckpoints)
        if freezeEmbeddings { add("freeze-embeddings", true) }
        return s
    }

    func run() throws {
        compute.apply()
        let runURL = URL(fileURLWithPath: out)
        var settings = TrainingConfiguration()
        var checkpoint: URL?
        if resume || resumeFrom != nil {
            checkpoint = resumeFrom.map { URL(fileURLWithPath: $0) } ?? Checkpoint.latest(run: runURL)
            guard let checkpoint else { throw CommandFailure("--resume: no checkpoint in \(runURL.appendingPathComponent("checkpoints").path)") }
            // The run's own configuration first, so the continuation is the same computation.
            let saved = checkpoint.appendingPathComponent("config.json")
            guard let d = FileManager.default.contents(atPath: saved.path),
                  let obj = try JSONSerialization.jsonObject(with: d) as? [String: Any] else {
                throw CommandFailure("\(saved.path): missing or unreadable")
            }
            for (k, v) in obj.sorted(by: { $0.key < $1.key }) where k != "base-model" { try settings.set(k, v, source: saved.path) }
        }
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else { throw CommandFailure("\(config): cannot be read") }
            guard let yaml = try Yams.load(yaml: text) as? [String: Any] else { throw CommandFailure("\(config): expected a mapping of settings") }
            for (k, v) in yaml.sorted(by: { $0.key < $1.key }) { try settings.set(k, v, source: config) }
        }
        for (k, v) in flagSettings { try settings.set(k, v, source: "command line") }
        try settings.validate()

        let say: (String) -> Void = { if !quiet { print($0); flushStandardOutput() } }
        try adoptFourBitFolder(&settings)
        try checkMemory(settings)
        let t0 = Date()
        let loaded = try ModelLoader.load(model.model, options: settings.loadOptions())
        say("model \(loaded.path) (\(loaded.format)) loaded in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        if settings.method == .qlora, settings.quantization != .keep, loaded.format == "gguf",
           let type = (try? GGUFFile(path: loaded.path))?.info("blk.0.attn_q.weight")?.type, type.isQuantized {
            say("note: the GGUF's linears are already \(type) blocks; re-quantizing them to \(settings.quantization.rawValue.uppercased()) "
                + "rounds twice (SmolLM2 Q4_1 → NF4: base validation loss +6 % on examples/veloria). --quant keep trains on the file's own blocks.")
        }
        let options = DatasetOptions(maxSequenceLength: min(settings.maxSequenceLength, loaded.model.configuration.maxPositions),
                                     trainOnInputs: settings.trainOnInputs, packing: settings.packing)
        let splits = try DatasetSplits.load(path: data, model: loaded, options: options)
        let st = splits.train.stats
        say("train: \(st.examples) examples, \(st.tokens) tokens (\(st.targetTokens) trained on)"
            + (st.truncated > 0 ? ", \(st.truncated) truncated to \(options.maxSequenceLength) tokens" : "")
            + (splits.valid.map { ", valid: \($0.stats.examples) examples" } ?? ""))

        var adapter: LoRAAdapter?
        if settings.method.usesAdapter {
            if let checkpoint {
                adapter = try LoRAAdapter.load(from: checkpoint.appendingPathComponent("adapter"), for: loaded.model, trainable: true)
            } else {
                adapter = try LoRAAdapter.create(for: loaded.model, configuration: settings.lora, seed: settings.seed)
            }
            try adapter!.attach(to: loaded.model)
        }
        let stream = try BatchIterator(dataset: splits.train, batchSize: settings.batchSize, seed: settings.seed)
        let validBatches = try splits.valid.map { try BatchIterator.evaluationBatches($0, batchSize: settings.batchSize) } ?? []
        let trainer = try Trainer(model: loaded.model, adapter: adapter, configuration: settings, train: stream,
                                  validation: validBatches, runDirectory: runURL, baseModelName: loaded.path)
        try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
        try AtomicFile.write(try trainer.settingsJSON(), to: runURL.appendingPathComponent("config.json"))

        let metricsURL = runURL.appendingPathComponent("metrics.jsonl")
        let resumedStep = checkpoint.flatMap { try? JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: $0.appendingPathComponent("trainer_state.json"))).step }
        if let resumedStep {
            // Drop metrics logged after the checkpoint: those steps run again.
            let kept = ((try? MetricsLog.read(from: metricsURL)) ?? []).filter { $0.step <= resumedStep }
            let log = try MetricsLog(url: metricsURL, truncate: true)
            for r in kept { try log.append(r) }
        }
        let metrics = try MetricsLog(url: metricsURL, truncate: resumedStep == nil)
        let stop = StopSignal()
        let progress = ProgressLine(quiet: quiet)
        let outcome = try trainer.run(resumeFrom: checkpoint, shouldStop: { stop.requested }) { event in
            switch event {
            case let .started(total, start, params):
                say(params.description)
                say(start > 0 ? "resuming at step \(start) of \(total)" : "training \(total) steps")
            case let .step(r):
                progress.update(r)
                try? metrics.append(MetricRecord(step: r.step, epoch: Double(r.epoch), kind: MetricRecord.train, loss: r.loss,
                                                 learningRate: Double(r.learningRate), tokensPerSecond: r.tokensPerSecond,
                                                 elapsedSeconds: r.elapsedSeconds, peakRSSBytes: r.peakRSSBytes,
                                                 gradientNorm: Double(r.gradientNorm)))
            case let .evaluation(step, loss, tokens):
                progress.finishLine()
                say(String(format: "step %d: valid loss %.4f (perplexity %.2f) over %d tokens", step, loss, exp(loss), tokens))
                try? metrics.append(MetricRecord(step: step, kind: MetricRecord.valid, loss: loss, elapsedSeconds: 0))
            case let .checkpoint(step, url):
                progress.finishLine()
                say("step \(step): checkpoint \(url.path)")
            }
        }
        progress.finishLine()
        if outcome.interrupted {
            print("stopped at step \(outcome.steps); continue with: lorikeet train … --out \(out) --resume")
            return
        }
        // Final artefacts.
        let output: URL
        if let adapter {
            output = runURL.appendingPathComponent("adapter")
            try adapter.save(to: output, baseModel: loaded.path)
        } else {
            output = runURL.appendingPathComponent("model")
            var weights: [String: Tensor] = [:]
            for (n, p) in loaded.model.parameters { weights[n] = p.value }
            try ModelExport.writeFolder(weights: weights, configuration: loaded.model.configuration, source: loaded, to: output)
        }
        let records = (try? MetricsLog.read(from: metricsURL)) ?? []
        let summary = RunSummary(
            title: runURL.lastPathComponent, model: loaded.path, method: settings.method == .lora ? "LoRA" : settings.method == .qlora ? "QLoRA (\(settings.quantization.rawValue))" : "Full fine-tuning",
            dataset: data, date: t0, steps: outcome.steps,
            epochs: Double(outcome.steps * settings.gradientAccumulation) / Double(max(1, stream.batchesPerEpoch)),
            trainableParameters: trainer.parameterSummary.trainable, totalParameters: trainer.parameterSummary.total,
            finalTrainLoss: outcome.lastTrainLoss, finalValidLoss: outcome.lastValidLoss, bestValidLoss: outcome.bestValidLoss,
            tokensPerSecond: Double(outcome.tokensSeen) / max(outcome.elapsedSeconds, 1e-9), peakRSSBytes: MemoryStats.peakResidentBytes,
            wallSeconds: outcome.elapsedSeconds, outputPath: output.path, reportPath: runURL.appendingPathComponent("report.html").path,
            settings: settings.settings.map { RunSummary.Setting($0.key, "\($0.value)") })
        try AtomicFile.write(Data(TrainingReport.html(records: records, summary: summary).utf8), to: runURL.appendingPathComponent("report.html"))
        print(TrainingReport.textSummary(records: records, summary: summary))
    }
}

extension Train {
    /// A bitsandbytes 4-bit folder trains on its own codes: a QLoRA run on one keeps them (the
    /// run's config says `quant: keep`), and asking for the other 4-bit table is refused.
    func adoptFourBitFolder(_ s: inout TrainingConfiguration) throws {
        let url = URL(fileURLWithPath: model.model)
        guard s.method == .qlora, let folder = ModelLoader.fourBitConfig(folder: url) else { return }
        if s.quantization != .keep, let stored = folder["bnb_4bit_quant_type"] as? String, stored != s.quantization.rawValue {
            throw CommandFailure("\(model.model) is already quantized to \(stored.uppercased()); train on it with --quant keep "
                + "(or --quant \(stored)), or start from the unquantized model for \(s.quantization.rawValue.uppercased())")
        }
        s.quantization = .keep
    }

    /// Refuses (unless --ignore-memory-check) when the estimate exceeds available memory,
    /// with the estimate and what would make the run fit.
    func checkMemory(_ s: TrainingConfiguration) throws {
        guard !ignoreMemoryCheck, let available = MemoryStats.availableBytes else { return }
        let (config, storage, _) = try modelShape(path: model.model)
        let method: EstimateMethod = switch s.method {
        case .full: .full
        case .lora: .lora
        case .qlora: s.quantization == .keep ? .qloraKeep : .qlora(blockSize: s.quantizationBlockSize, doubleQuant: s.doubleQuantization)
        }
        func estimate(_ m: EstimateMethod, checkpoint: Bool, batch: Int) -> MemoryEstimate {
            MemoryEstimator.estimate(configuration: config, method: m, lora: s.lora, batchSize: batch,
                                     sequenceLength: min(s.maxSequenceLength, config.maxPositions), gradientCheckpointing: checkpoint,
                                     baseStorage: storage, gradientAccumulation: s.gradientAccumulation, bf16Unquantized: s.bf16Base)
        }
        let e = estimate(method, checkpoint: s.gradientCheckpointing, batch: s.batchSize)
        guard e.required > available else { return }
        var lines = ["this run needs about \(MemoryStats.formatBytes(e.required)) but \(MemoryStats.formatBytes(available)) is available:"]
        for c in MemoryComponent.allCases where e.bytesAtPeak(c) > 0 {
            lines.append("  \(c.rawValue): \(MemoryStats.formatBytes(e.bytesAtPeak(c)))")
        }
        var tips: [String] = []
        if s.method != .qlora {
            let q = estimate(.qlora(blockSize: 64, doubleQuant: true), checkpoint: s.gradientCheckpointing, batch: s.batchSize)
            tips.append("--method qlora (about \(MemoryStats.formatBytes(q.required)))")
        }
        if !s.gradientCheckpointing {
            tips.append("--grad-checkpoint (about \(MemoryStats.formatBytes(estimate(method, checkpoint: true, batch: s.batchSize).required)))")
        }
        if s.batchSize > 1 {
            tips.append("--batch-size 1 with --grad-accumulation \(s.batchSize * s.gradientAccumulation) (about \(MemoryStats.formatBytes(estimate(method, checkpoint: s.gradientCheckpointing, batch: 1).required)))")
        }
        lines.append("try " + tips.joined(separator: ", or ") + "; --ignore-memory-check trains anyway")
        throw CommandFailure(lines.joined(separator: "\n"))
    }
}

/// Set by SIGINT (Ctrl-C); the trainer checks it after each step, checkpoints and stops.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var source: DispatchSourceSignal?

    init() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [weak self] in
            guard let self else { return }
            let second = self.lock.withLock { let was = self.flag; self.flag = true; return was }
            if second { exit(130) }  // a second Ctrl-C leaves at once; the last checkpoint stays intact
            FileHandle.standardError.write(Data("\nstopping after this step (Ctrl-C again to leave now)…\n".utf8))
        }
        s.resume()
        source = s
    }

    var requested: Bool { lock.withLock { flag } }
}

/// The live progress line: step/total, loss, lr, tokens/s, elapsed, ETA, peak memory.
final class ProgressLine {
    let quiet: Bool
    let tty = isatty(1) == 1
    var open = false
    var lastPrint = Date.distantPast

    init(quiet: Bool) { self.quiet = quiet }

    func update(_ r: StepReport) {
        if quiet { return }
        let line = String(format: "step %d/%d │ loss %.4f │ lr %.2e │ %.0f tok/s │ %@ elapsed │ ETA %@ │ peak %@",
                          r.step, r.totalSteps, r.loss, r.learningRate, r.tokensPerSecond, clock(r.elapsedSeconds), clock(r.etaSeconds),
                          r.peakRSSBytes.map { MemoryStats.formatBytes($0) } ?? "?")
        if tty {
            print("\r\u{1B}[2K" + line, terminator: "")
            flushStandardOutput()
            open = true
        } else if Date().timeIntervalSince(lastPrint) >= 5 || r.step == r.totalSteps || r.step == 1 {
            print(line)
            flushStandardOutput()  // a pipe is block-buffered: show progress as it happens
            lastPrint = Date()
        }
    }

    func finishLine() {
        if open { print(); open = false }
    }

    func clock(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
