// `lorikeet train`: flags and printing around FineTuning's TrainingRun, which owns the run
// folder, the settings (saved run < --config YAML < flags), the memory check, the training
// loop, checkpoints and the export. Ctrl-C asks the run to checkpoint and stop.
import ArgumentParser
import Foundation
import TensorCore
import Llama
import FineTuning

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model (LoRA or full) on a JSONL dataset.",
        discussion: """
        DATA is a folder with train.jsonl (and optional valid.jsonl) or a single .jsonl file. Lines are
        {"text"}, {"prompt","completion"}, {"messages":[…]} (rendered with the model's chat template) or
        alpaca {"instruction","input","output"}. The adapter lands in RUN/adapter (PEFT layout), a fully
        fine-tuned model in RUN/model; checkpoints in RUN/checkpoints, metrics in RUN/metrics.jsonl and a
        report in RUN/report.html. Every training setting below is also a key of the --config YAML file;
        flags win over the file, and --resume starts from the run's saved settings.

        Under mpirun (or another MPI launcher) each process is one rank of a data-parallel run: a step
        takes batch-size × grad-accumulation × ranks examples, the ranks sum their gradients, and rank 0
        alone writes the run folder and prints. libmpi is loaded at run time (LORIKEET_MPI_LIBRARY names
        it); each rank uses cores ÷ ranks-per-host threads unless --threads or LORIKEET_THREADS says.
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
    @Option(name: .customLong("stop-after"), help: ArgumentHelp("Stop as Ctrl-C does once this many steps are done (tests).", visibility: .hidden))
    var stopAfter: Int?
    @OptionGroup(title: "Training settings") var settings: TrainingFlags

    func run() throws {
        let group = try ProcessGroup.fromEnvironment()
        try asRank(of: group) { try train(group: group) }
    }

    func train(group: ProcessGroup) throws {
        compute.apply(for: group)
        let quiet = self.quiet || !group.isLeader
        let say: (String) -> Void = { if !quiet { print($0); flushStandardOutput() } }
        let file = try config.map { path -> TrainingSettings in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("\(path): cannot be read") }
            return try TrainingSettings(yaml: text, path: path)
        }
        let resumePoint: TrainingRun.Resume = resumeFrom.map { .checkpoint(URL(fileURLWithPath: $0)) } ?? (resume ? .latest : .none)
        let run = try TrainingRun(model: .source(model.open()), data: .path(data), directory: URL(fileURLWithPath: out),
                                  file: file, commandLine: try settings.settings(), resume: resumePoint)
        run.group = group
        if group.isDistributed {
            say("rank 0 of \(group.size) (\(group.implementation ?? "MPI")), \(Parallel.threadCount) thread\(Parallel.threadCount == 1 ? "" : "s") per rank")
        }
        if !ignoreMemoryCheck, let available = MemoryStats.availableBytes {
            do { try run.checkMemory(available: available) } catch let TrainingError.insufficientMemory(required, available, breakdown, advice) {
                throw CommandFailure((["this run needs about \(MemoryStats.formatBytes(required)) but \(MemoryStats.formatBytes(available)) is available:"]
                    + breakdown.map { "  \($0.component): \(MemoryStats.formatBytes($0.bytes))" }
                    + [(advice.isEmpty ? "" : "try " + advice.map { $0.text(spelling: { "--" + $0 }) }.joined(separator: ", or ") + "; ")
                        + "--ignore-memory-check trains anyway"])
                    .joined(separator: "\n"))
            }
        }
        var stop: StopSignal?  // armed once training starts: until then Ctrl-C leaves at once
        let progress = ProgressLine(quiet: quiet)
        var step = 0
        let result = try run.run { event in
            if case let .training(.step(r)) = event { step = r.step }
            switch event {
            case let .modelLoaded(path, format, seconds):
                say("model \(path) (\(format?.rawValue ?? "random")) loaded in \(String(format: "%.1f", seconds)) s")
            case let .note(text):
                say("note: " + text)
            case let .dataLoaded(st, valid, maxLength, cached):
                say("train: \(st.examples) examples, \(st.tokens) tokens (\(st.targetTokens) trained on)"
                    + (st.truncated > 0 ? ", \(st.truncated) truncated to \(maxLength) tokens" : "")
                    + (valid.map { ", valid: \($0.examples) examples" } ?? "")
                    + (cached.map { " (tokenized before: read from \($0.deletingLastPathComponent().path))" } ?? ""))
            case let .training(.started(total, start, params)):
                stop = StopSignal()
                say(params.description)
                say(start > 0 ? "resuming at step \(start) of \(total)" : "training \(total) steps")
            case let .training(.step(r)):
                progress.update(r)
            case let .training(.evaluation(step, loss, tokens)):
                progress.finishLine()
                say(String(format: "step %d: valid loss %.4f (perplexity %.2f) over %d tokens", step, loss, exp(loss), tokens))
            case let .training(.checkpoint(step, url)):
                progress.finishLine()
                say("step \(step): checkpoint \(url.path)")
            case let .training(.skipped(step, cause)):
                progress.finishLine()
                FileHandle.standardError.write(Data("warning: step \(step) skipped: \(cause) (--skip-nonfinite-steps)\n".utf8))
            }
        } shouldStop: {
            stop?.requested == true || stopAfter.map { step >= $0 } == true
        }
        progress.finishLine()
        guard group.isLeader else { return }
        guard let summary = result.summary else {
            print("stopped at step \(result.outcome.steps); continue with: lorikeet train … --out \(out) --resume")
            return
        }
        print(TrainingReport.textSummary(records: result.records, summary: summary))
    }
}

/// The training settings as flags. Each property is named after its setting (TrainingConfiguration's
/// coding key, without dashes); `settings()` hands over the ones given, so adding a setting means
/// adding its property to TrainingConfiguration and its flag here.
struct TrainingFlags: ParsableArguments {
    @Option(help: "lora, qlora or full.") var method: String?
    @Option(help: "QLoRA base encoding: nf4 (default), fp4, or keep (a GGUF's own quantized blocks, or a bitsandbytes 4-bit folder's codes).") var quant: String?
    @Option(help: "QLoRA nf4/fp4: weights per absmax block (32…4096, default 64).") var blocksize: Int?
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "QLoRA nf4/fp4: quantize the absmax values too (default on).") var doubleQuant: Bool?
    @Flag(name: .customLong("bf16-base"), inversion: .prefixedNo, help: "LoRA/QLoRA: hold the frozen embeddings, head and norms in bf16 (default off).") var bf16Base: Bool?
    @Option(name: .customLong("compute-dtype"), help: "Precision of the matrix products: f32 (default), or bf16 (inputs rounded to bfloat16, sums in f32; weights, adapters, optimizer state and loss stay f32) where the CPU has AVX512_BF16.") var computeDType: String?
    @Option(help: "LoRA rank r.") var rank: Int?
    @Option(help: "LoRA alpha (scale = alpha / r).") var alpha: Double?
    @Option(help: "LoRA dropout.") var dropout: Double?
    @Option(help: "Modules to adapt: comma list of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj (Phi-3: qkv_proj,o_proj,gate_up_proj,down_proj) or all-linear.") var targets: String?
    @Option(help: "Only these decoder layers (comma list).") var layers: String?
    @Option(name: .customLong("rank-pattern"), help: "Per-module ranks, e.g. down_proj=4,o_proj=8.") var rankPattern: String?
    @Option(name: .customLong("alpha-pattern"), help: "Per-module alphas, e.g. o_proj=32.") var alphaPattern: String?
    @Flag(name: .customLong("use-rslora"), help: "Scale by alpha/√r (rsLoRA).") var useRSLoRA = false
    @Option(name: .customLong("lora-init"), help: "kaiming (PEFT default) or gaussian.") var loraInit: String?
    @Option(help: "adamw (32-bit moments) or adamw8bit (8-bit blockwise moments).") var optimizer: String?
    @Flag(name: .customLong("optimizer-state-on-disk"), help: "Keep AdamW's moments in a memory-mapped file the OS can page out.")
    var optimizerStateOnDisk = false
    @Flag(name: .customLong("shard-optimizer-state"), help: "Under mpirun: each rank keeps the AdamW moments of its share of the weights only (ZeRO-1); best with --method full.")
    var shardOptimizerState = false
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
    @Option(name: .customLong("batch-tokens"), help: "Tokens per micro-batch: take examples while they fit, instead of --batch-size examples (not with --packing).") var batchTokens: Int?
    @Flag(name: .customLong("padding-free"), inversion: .prefixedNo, help: "Put a micro-batch's examples back to back in one row instead of padding them to the longest (default on; --no-padding-free pads).") var paddingFree: Bool?
    @Flag(name: .customLong("token-cache"), inversion: .prefixedNo, help: "Keep the tokenized data in the run folder (tokenized/) and reuse it when the data, tokenizer and length are the same (default on).") var tokenCache: Bool?
    @Option(name: .customLong("max-seq-length"), help: "Truncate examples to this many tokens.") var maxSeqLength: Int?
    @Flag(help: "Pack examples into full-length rows (attention stays within an example).") var packing = false
    @Flag(name: .customLong("train-on-inputs"), help: "Also train on prompt / user tokens.") var trainOnInputs = false
    @Option(help: "Seed of initialisation, shuffling and dropout.") var seed: Int?
    @Option(name: .customLong("save-every"), help: "Checkpoint every N steps (0 = at the end only).") var saveEvery: Int?
    @Option(name: .customLong("eval-every"), help: "Evaluate every N steps (0 = at the end only).") var evalEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints to keep.") var keepCheckpoints: Int?
    @Option(name: .customLong("skip-nonfinite-steps"), help: "Skip up to N steps whose loss or gradients are NaN/infinite (default 0: stop at the first, naming the last good checkpoint).")
    var skipNonFiniteSteps: Int?
    @Flag(name: .customLong("freeze-embeddings"), help: "Full fine-tuning: keep the embeddings frozen.") var freezeEmbeddings = false

    /// The settings given on the command line, matched to their keys by name (a flag that is
    /// off or an option not given is not a setting of the command line).
    func settings() throws -> TrainingSettings {
        var values: [String: SettingValue] = [:]
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let key = Self.key(forProperty: label) else {
                preconditionFailure("TrainingFlags.\(child.label ?? "?") has no setting of that name")
            }
            let value: SettingValue? = switch child.value {
            case let o as Option<Int?>: o.wrappedValue.map { .int($0) }
            case let o as Option<Double?>: o.wrappedValue.map { .double($0) }
            case let o as Option<String?>: o.wrappedValue.map { .string($0) }
            case let f as Flag<Bool>: f.wrappedValue ? .bool(true) : nil
            case let f as Flag<Bool?>: f.wrappedValue.map { .bool($0) }
            default: preconditionFailure("TrainingFlags.\(label) has an unsupported type \(type(of: child.value))")
            }
            if let value { values[key] = value }
        }
        return try TrainingSettings(values, source: .commandLine)
    }

    /// The setting a stored property (`_learningRate`) stands for (`learning-rate`).
    static func key(forProperty label: String) -> String? {
        func plain(_ s: String) -> String { s.lowercased().filter { $0.isLetter || $0.isNumber } }
        let name = plain(label)
        return TrainingConfiguration.CodingKeys.allCases.first { plain($0.rawValue) == name }?.rawValue
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
        var line = String(format: "step %d/%d │ loss %.4f │ lr %.2e │ %.0f tok/s │ %@ elapsed │ ETA %@ │ peak %@",
                          r.step, r.totalSteps, r.loss, r.learningRate, r.tokensPerSecond, clock(r.elapsedSeconds), clock(r.etaSeconds),
                          r.peakRSSBytes.map { MemoryStats.formatBytes($0) } ?? "?")
        if r.worldSize > 1 { line += String(format: " │ %d ranks, all-reduce %.0f ms", r.worldSize, r.communicationSeconds * 1000) }
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
