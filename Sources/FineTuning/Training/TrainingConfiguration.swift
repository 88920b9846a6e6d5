// Everything a training run is configured with, as one flat Codable value whose coding keys
// are the settings' names — the `lorikeet train` flag names, the keys of a YAML --config file
// and of the run's saved config.json alike. Adding a setting means adding its property and
// its coding key here (and its flag in the command). Typed views (`lora`, `adamW`,
// `fineTuningMethod`, `optimizerChoice`) group the flat keys the way the code uses them.
import Foundation
import TensorCore
import Quantization

/// A method's settings-file name.
public enum TrainingMethod: String, Codable, Sendable, CaseIterable {
    /// Frozen base, trainable LoRA pairs.
    case lora
    /// Every weight trains.
    case full
    /// LoRA over a frozen, quantized base whose linears are widened only right before each product.
    case qlora

    /// True for the methods that train adapters over a frozen base.
    public var usesAdapter: Bool { self != .full }
}

/// The settings-file name of an optimizer (`optimizer` key).
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// AdamW with 32-bit moments.
    case adamw
    /// AdamW with 8-bit blockwise moments (bitsandbytes' scheme; small tensors stay 32-bit).
    case adamw8bit
}

/// How QLoRA holds the frozen base's linear weights (`quant` key).
public enum BaseQuantization: String, Codable, Sendable, CaseIterable {
    /// bitsandbytes NF4 blocks (double quantization unless turned off).
    case nf4
    /// bitsandbytes FP4 (E2M1) blocks.
    case fp4
    /// The file's own quantized blocks, widened on the fly (no re-quantization).
    case keep
}

/// A complete training configuration (defaults follow common LoRA practice for small models).
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    /// lora, qlora or full.
    public var method: TrainingMethod = .lora
    /// LoRA: default rank r.
    public var rank = LoRAConfiguration().rank
    /// LoRA: default alpha (scale = alpha / r, or alpha / √r with rsLoRA).
    public var alpha = LoRAConfiguration().alpha
    /// LoRA: dropout on the adapter's input during training.
    public var dropout = LoRAConfiguration().dropout
    /// LoRA: module names (q_proj … down_proj) or all-linear.
    @CommaSeparated public var targets: [String] = LoRAConfiguration().targets
    /// LoRA: only these decoder layers (nil: all).
    @OptionalCommaSeparated public var layers: [Int]? = nil
    /// LoRA: per-module ranks, regex key → r (PEFT's rank_pattern).
    @NameValuePairs public var rankPattern: [String: Int] = [:]
    /// LoRA: per-module alphas, regex key → alpha (PEFT's alpha_pattern).
    @NameValuePairs public var alphaPattern: [String: Float] = [:]
    /// LoRA: scale by alpha/√r (rsLoRA).
    public var useRSLoRA = LoRAConfiguration().useRSLoRA
    /// LoRA: initialisation of A.
    public var loraInit = LoRAConfiguration().initialization
    /// adamw or adamw8bit.
    public var optimizer: OptimizerKind = .adamw
    /// Keep AdamW's moments in a memory-mapped file the OS can page out (32-bit AdamW only).
    public var optimizerStateOnDisk = false
    /// Under MPI: each rank keeps the AdamW moments of its share of the parameters only (ZeRO
    /// stage 1) and the updated weights are gathered after each step (32-bit AdamW only).
    public var shardOptimizerState = false
    /// Peak learning rate.
    public var learningRate: Float = 2e-4
    /// AdamW β1.
    public var beta1: Float = 0.9
    /// AdamW β2.
    public var beta2: Float = 0.999
    /// AdamW ε.
    public var eps: Float = 1e-8
    /// AdamW decoupled weight decay.
    public var weightDecay: Float = 0
    /// constant, linear or cosine.
    public var schedule: ScheduleKind = .cosine
    /// Warmup: a whole number of steps when ≥ 1, else a fraction of the total steps.
    public var warmup: Double = 0
    /// Micro-batches per optimizer step.
    public var gradientAccumulation = 1
    /// Global-norm clip; 0 disables clipping.
    public var maxGradientNorm: Float = 1
    /// Recompute each decoder block during backward.
    public var gradientCheckpointing = false
    /// Epochs over the training set.
    public var epochs = 1
    /// Stop after this many optimizer steps (nil: run `epochs`).
    public var maxSteps: Int?
    /// Examples per micro-batch.
    public var batchSize = 4
    /// When set, a micro-batch takes examples while their tokens fit in this many, instead of
    /// `batchSize` examples (not with packing).
    public var batchTokens: Int?
    /// Concatenate a micro-batch's examples into one row (segment ids keep them apart) instead
    /// of padding them to the longest: same examples and loss, no padding computed.
    public var paddingFree = true
    /// Keep the tokenized data in the run folder (tokenized/), keyed by the data's and the
    /// tokenizer's hashes, so a resumed or restarted run reads it instead of tokenizing again.
    public var tokenCache = true
    /// Truncate examples to this many tokens.
    public var maxSequenceLength = 1024
    /// Pack examples into full-length rows (attention stays within an example).
    public var packing = false
    /// Also train on prompt / user tokens.
    public var trainOnInputs = false
    /// Seed of initialisation, shuffling and dropout.
    public var seed: UInt64 = 0
    /// Checkpoint every N steps (0: only at the end).
    public var saveEvery = 0
    /// Evaluate on the validation set every N steps (0: only at the end).
    public var evalEvery = 0
    /// Checkpoints kept (oldest removed first).
    public var keepCheckpoints = 2
    /// Steps whose loss or gradients are NaN/infinite that may be skipped (no update; the batch
    /// is dropped) before the run stops; 0 stops at the first.
    public var skipNonFiniteSteps = 0
    /// Full fine-tuning only: keep the token embedding (and a tied head) frozen.
    public var freezeEmbeddings = false
    /// QLoRA: the encoding of the frozen linear weights.
    public var quantization: BaseQuantization = .nf4
    /// QLoRA with nf4/fp4: weights per absmax block (bitsandbytes allows 32…4096).
    public var quantizationBlockSize = 64
    /// QLoRA with nf4/fp4: quantize the absmax values too (bitsandbytes' compress_statistics).
    public var doubleQuantization = true
    /// LoRA/QLoRA: hold the frozen tensors that stay unquantized (embeddings, output head, norms)
    /// in bf16 when they load wider (a GGUF's are dequantized to f32).
    public var bf16Base = false
    /// The precision of the matrix products in training and evaluation: f32, or bf16 (inputs
    /// rounded to bfloat16, sums in f32) where the CPU multiplies bf16 natively. Weights,
    /// adapters, optimizer state, gradients' sums and the loss stay f32.
    public var computeDType: ComputeDType = .f32

    /// The settings' names: the flag names, the YAML keys and the saved config's keys.
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case method, rank, alpha, dropout, targets, layers
        case rankPattern = "rank-pattern", alphaPattern = "alpha-pattern", useRSLoRA = "use-rslora", loraInit = "lora-init"
        case optimizer, optimizerStateOnDisk = "optimizer-state-on-disk", shardOptimizerState = "shard-optimizer-state"
        case learningRate = "learning-rate", beta1, beta2, eps, weightDecay = "weight-decay"
        case schedule = "lr-schedule", warmup, gradientAccumulation = "grad-accumulation", maxGradientNorm = "max-grad-norm"
        case gradientCheckpointing = "grad-checkpoint", epochs, maxSteps = "max-steps", batchSize = "batch-size"
        case batchTokens = "batch-tokens", paddingFree = "padding-free", tokenCache = "token-cache"
        case maxSequenceLength = "max-seq-length", packing, trainOnInputs = "train-on-inputs", seed
        case saveEvery = "save-every", evalEvery = "eval-every", keepCheckpoints = "keep-checkpoints"
        case skipNonFiniteSteps = "skip-nonfinite-steps"
        case freezeEmbeddings = "freeze-embeddings"
        case quantization = "quant", quantizationBlockSize = "blocksize", doubleQuantization = "double-quant"
        case bf16Base = "bf16-base", computeDType = "compute-dtype"
    }

    /// The defaults.
    public init() {}

    // MARK: Typed views

    /// The LoRA settings.
    public var lora: LoRAConfiguration {
        get {
            LoRAConfiguration(rank: rank, alpha: alpha, dropout: dropout, targets: targets, layers: layers,
                              rankPattern: rankPattern, alphaPattern: alphaPattern, useRSLoRA: useRSLoRA, initialization: loraInit)
        }
        set {
            (rank, alpha, dropout, targets, layers) = (newValue.rank, newValue.alpha, newValue.dropout, newValue.targets, newValue.layers)
            (rankPattern, alphaPattern, useRSLoRA, loraInit) = (newValue.rankPattern, newValue.alphaPattern, newValue.useRSLoRA,
                                                                newValue.initialization)
        }
    }

    /// AdamW's hyper-parameters.
    public var adamW: AdamWConfig {
        get { AdamWConfig(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay) }
        set { (beta1, beta2, eps, weightDecay) = (newValue.beta1, newValue.beta2, newValue.eps, newValue.weightDecay) }
    }

    /// The method with its QLoRA base encoding.
    public var fineTuningMethod: FineTuningMethod {
        get {
            switch method {
            case .full: .full
            case .lora: .lora
            case .qlora:
                switch quantization {
                case .keep: .qlora(.keep)
                case .nf4: .qlora(.fourBit(.nf4, blockSize: quantizationBlockSize, doubleQuant: doubleQuantization))
                case .fp4: .qlora(.fourBit(.fp4, blockSize: quantizationBlockSize, doubleQuant: doubleQuantization))
                }
            }
        }
        set {
            method = newValue.kind
            switch newValue {
            case .full, .lora: break
            case .qlora(.keep): quantization = .keep
            case let .qlora(.fourBit(type, blockSize, doubleQuant)):
                quantization = type == .nf4 ? .nf4 : .fp4
                (quantizationBlockSize, doubleQuantization) = (blockSize, doubleQuant)
            }
        }
    }

    /// The optimizer with where its state lives.
    public var optimizerChoice: OptimizerChoice {
        get { optimizer == .adamw8bit ? .adamw8bit : optimizerStateOnDisk ? .adamwOnDisk : .adamw }
        set {
            optimizer = newValue == .adamw8bit ? .adamw8bit : .adamw
            optimizerStateOnDisk = newValue == .adamwOnDisk
        }
    }

    /// Warmup steps for a run of `total` steps.
    public func warmupSteps(total: Int) -> Int {
        warmup >= 1 ? Int(warmup) : Int((warmup * Double(total)).rounded())
    }

    // MARK: Validation

    /// Throws naming the setting when a value cannot work (`origin` says where each key was set).
    public func validate(origin: (CodingKeys) -> String? = { _ in nil }) throws {
        func bad(_ key: CodingKeys, _ why: String) -> TrainingError {
            .invalidSetting(key: key.rawValue, source: origin(key), reason: why)
        }
        guard learningRate > 0, learningRate.isFinite else { throw bad(.learningRate, "must be positive") }
        guard gradientAccumulation >= 1 else { throw bad(.gradientAccumulation, "must be ≥ 1") }
        guard batchSize >= 1 else { throw bad(.batchSize, "must be ≥ 1") }
        if let batchTokens {
            guard batchTokens >= 1 else { throw bad(.batchTokens, "must be ≥ 1") }
            guard !packing else { throw bad(.batchTokens, "does not apply with packing (rows are max-seq-length tokens; use batch-size)") }
        }
        guard maxSequenceLength >= 2 else { throw bad(.maxSequenceLength, "must be ≥ 2") }
        guard epochs >= 1 || maxSteps != nil else { throw bad(.epochs, "must be ≥ 1") }
        if let maxSteps, maxSteps < 1 { throw bad(.maxSteps, "must be ≥ 1") }
        guard warmup >= 0 else { throw bad(.warmup, "must be ≥ 0") }
        guard saveEvery >= 0 else { throw bad(.saveEvery, "must be ≥ 0") }
        guard evalEvery >= 0 else { throw bad(.evalEvery, "must be ≥ 0") }
        guard keepCheckpoints >= 1 else { throw bad(.keepCheckpoints, "must be ≥ 1") }
        guard skipNonFiniteSteps >= 0 else { throw bad(.skipNonFiniteSteps, "must be ≥ 0") }
        guard beta1 >= 0, beta1 < 1 else { throw bad(.beta1, "must be in [0, 1)") }
        guard beta2 >= 0, beta2 < 1 else { throw bad(.beta2, "must be in [0, 1)") }
        guard seed <= UInt64(Int.max) else { throw bad(.seed, "must be at most \(Int.max)") }
        if method.usesAdapter {
            guard rank > 0 else { throw bad(.rank, "must be positive") }
            guard dropout >= 0, dropout < 1 else { throw bad(.dropout, "must be in [0, 1)") }
            do { try lora.validate() } catch let LoRAError.invalidConfiguration(why) {
                let key: CodingKeys = why.contains("pattern") ? (why.contains("rank") ? .rankPattern : .alphaPattern) : .targets
                throw TrainingError.invalidSetting(key: key.rawValue, source: origin(key), reason: why)
            }
        }
        if optimizerStateOnDisk && optimizer != .adamw { throw bad(.optimizerStateOnDisk, "works with optimizer adamw") }
        if shardOptimizerState && (optimizer != .adamw || optimizerStateOnDisk) {
            throw bad(.shardOptimizerState, "works with optimizer adamw (32-bit moments in memory)")
        }
        guard FourBitType.allowedBlockSizes.contains(quantizationBlockSize) else {
            throw bad(.quantizationBlockSize, "must be one of \(FourBitType.allowedBlockSizes.sorted().map(String.init).joined(separator: ", "))")
        }
        if bf16Base && !method.usesAdapter {
            throw bad(.bf16Base, "works with method lora or qlora (full fine-tuning trains those tensors in f32)")
        }
        if !computeDType.isSupported {
            throw bad(.computeDType, "\(computeDType.rawValue) needs a CPU with bf16 dot products (x86-64 AVX512_BF16: Intel Cooper Lake, "
                + "Sapphire Rapids or later, AMD Zen 4 or later), and this one has none; use f32")
        }
    }
}

/// Errors of training runs.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A setting has a value that cannot work; names the setting and where it was set
    /// (a file and line, a saved run, the command line), when known.
    case invalidSetting(key: String, source: String?, reason: String)
    /// A checkpoint or run folder is missing pieces or inconsistent; names the file.
    case invalidCheckpoint(path: String, reason: String)
    /// The training data gives nothing to train on.
    case noData(String)
    /// The loss or the gradients became NaN or infinite at `step` (`cause` says which and its
    /// value), after `skipped` such steps were skipped; `lastCheckpoint` is the newest good one.
    case nonFinite(step: Int, cause: String, skipped: Int, lastCheckpoint: String?)
    /// The run's estimated memory exceeds what is available: the estimate's components at its
    /// peak, and setting changes that would need less.
    case insufficientMemory(required: Int, available: Int, breakdown: [(component: String, bytes: Int)], advice: [MemoryAdvice])

    /// The error as one line (or, for memory, the estimate and advice on the lines after).
    public var description: String {
        switch self {
        case let .invalidSetting(key, source, reason): (source.map { "\($0): " } ?? "") + "setting '\(key)' \(reason)"
        case let .invalidCheckpoint(path, reason): "\(path): \(reason)"
        case let .noData(why): "training data: \(why)"
        case let .nonFinite(step, cause, skipped, last):
            "training stopped at step \(step): \(cause)" + (skipped > 0 ? " (\(skipped) such steps skipped before)" : "")
                + "; the last good checkpoint is \(last ?? "none (no checkpoint was written yet)")"
                + ". Try a lower learning-rate, --max-grad-norm, or --skip-nonfinite-steps N to skip such steps"
        case let .insufficientMemory(required, available, breakdown, advice):
            (["this run needs about \(MemoryStats.formatBytes(required)) but \(MemoryStats.formatBytes(available)) is available:"]
                + breakdown.map { "  \($0.component): \(MemoryStats.formatBytes($0.bytes))" }
                + (advice.isEmpty ? [] : ["try " + advice.map { $0.text(spelling: { $0 }) }.joined(separator: ", or ")])).joined(separator: "\n")
        }
    }

    /// Errors are equal when they read the same.
    public static func == (lhs: TrainingError, rhs: TrainingError) -> Bool { lhs.description == rhs.description }
}

/// Setting changes that make a run need less memory, with the memory it would then need.
public struct MemoryAdvice: Sendable, Equatable {
    /// One setting and its new value (nil for a switch turned on).
    public struct Change: Sendable, Equatable {
        /// The setting's name.
        public var key: String
        /// Its new value; nil for a switch turned on.
        public var value: String?
    }
    /// The changes, applied together.
    public var changes: [Change]
    /// The estimate's required bytes with the changes.
    public var requiredBytes: Int

    /// "method qlora (about 1.2 GiB)", with each key spelled by `spell` (e.g. as a flag).
    public func text(spelling spell: (String) -> String) -> String {
        changes.map { c in spell(c.key) + (c.value.map { " \($0)" } ?? "") }.joined(separator: " with ")
            + " (about \(MemoryStats.formatBytes(requiredBytes)))"
    }
}
