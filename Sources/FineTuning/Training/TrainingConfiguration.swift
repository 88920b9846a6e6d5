// Everything a training run is configured with. The keys are the `lorikeet train` flag
// names, in a YAML file as on the command line; the resolved configuration is saved in the
// run folder so a run can be understood and resumed later.
import Foundation
import Quantization

/// What is trained.
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

/// Which optimizer updates the trainable weights.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// AdamW with 32-bit moments.
    case adamw
    /// AdamW with 8-bit blockwise moments (bitsandbytes' scheme; small tensors stay 32-bit).
    case adamw8bit
}

/// How QLoRA holds the frozen base's linear weights.
public enum BaseQuantization: String, Codable, Sendable, CaseIterable {
    /// bitsandbytes NF4 blocks (double quantization unless turned off).
    case nf4
    /// bitsandbytes FP4 (E2M1) blocks.
    case fp4
    /// The GGUF file's own quantized blocks, widened on the fly (no re-quantization).
    case keep
}

/// A complete training configuration (defaults follow common LoRA practice for small models).
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public var method: TrainingMethod = .lora
    public var lora = LoRAConfiguration()
    public var learningRate: Float = 2e-4
    public var adam = AdamWSettings()
    public var optimizer: OptimizerKind = .adamw
    /// Keep AdamW's moments in a memory-mapped file the OS can page out (32-bit AdamW only).
    public var optimizerStateOnDisk = false
    public var schedule: ScheduleKind = .cosine
    /// Warmup: a whole number of steps when ≥ 1, else a fraction of the total steps.
    public var warmup: Double = 0
    public var gradientAccumulation = 1
    /// Global-norm clip; 0 disables clipping.
    public var maxGradientNorm: Float = 1
    public var gradientCheckpointing = false
    public var epochs = 1
    /// Stop after this many optimizer steps (nil: run `epochs`).
    public var maxSteps: Int?
    public var batchSize = 4
    public var maxSequenceLength = 1024
    public var packing = false
    public var trainOnInputs = false
    public var seed: UInt64 = 0
    /// Checkpoint every N steps (0: only at the end).
    public var saveEvery = 0
    /// Evaluate on the validation set every N steps (0: only at the end).
    public var evalEvery = 0
    /// Checkpoints kept (oldest removed first).
    public var keepCheckpoints = 2
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

    /// The defaults.
    public init() {}

    /// AdamW hyper-parameters.
    public struct AdamWSettings: Codable, Equatable, Sendable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        public var weightDecay: Float = 0
        public init() {}
    }

    /// Throws with the flag name when a value cannot work.
    public func validate() throws {
        func bad(_ key: String, _ why: String) -> TrainingError { .invalidConfiguration(key: key, reason: why) }
        guard learningRate > 0, learningRate.isFinite else { throw bad("learning-rate", "must be positive") }
        guard gradientAccumulation >= 1 else { throw bad("grad-accumulation", "must be ≥ 1") }
        guard batchSize >= 1 else { throw bad("batch-size", "must be ≥ 1") }
        guard maxSequenceLength >= 2 else { throw bad("max-seq-length", "must be ≥ 2") }
        guard epochs >= 1 || maxSteps != nil else { throw bad("epochs", "must be ≥ 1") }
        if let maxSteps, maxSteps < 1 { throw bad("max-steps", "must be ≥ 1") }
        guard warmup >= 0 else { throw bad("warmup", "must be ≥ 0") }
        guard saveEvery >= 0, evalEvery >= 0 else { throw bad("save-every/eval-every", "must be ≥ 0") }
        guard keepCheckpoints >= 1 else { throw bad("keep-checkpoints", "must be ≥ 1") }
        guard adam.beta1 >= 0, adam.beta1 < 1, adam.beta2 >= 0, adam.beta2 < 1 else { throw bad("beta1/beta2", "must be in [0, 1)") }
        if method.usesAdapter { try lora.validate() }
        if optimizerStateOnDisk && optimizer != .adamw { throw bad("optimizer-state-on-disk", "works with --optimizer adamw") }
        guard FourBitType.allowedBlockSizes.contains(quantizationBlockSize) else {
            throw bad("blocksize", "must be one of \(FourBitType.allowedBlockSizes.sorted().map(String.init).joined(separator: ", "))")
        }
        if bf16Base && !method.usesAdapter {
            throw bad("bf16-base", "works with --method lora or qlora (full fine-tuning trains those tensors in f32)")
        }
    }

    /// Warmup steps for a run of `total` steps.
    public func warmupSteps(total: Int) -> Int {
        warmup >= 1 ? Int(warmup) : Int((warmup * Double(total)).rounded())
    }
}

/// Errors of training runs.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(key: String, reason: String)
    /// A checkpoint or run folder is missing pieces or inconsistent; names the file.
    case invalidCheckpoint(path: String, reason: String)
    /// The training data gives nothing to train on.
    case noData(String)
    /// Loss became NaN or infinite.
    case divergence(step: Int, loss: Float)

    public var description: String {
        switch self {
        case let .invalidConfiguration(key, reason): "--\(key): \(reason)"
        case let .invalidCheckpoint(path, reason): "\(path): \(reason)"
        case let .noData(why): "training data: \(why)"
        case let .divergence(step, loss): "training diverged at step \(step): loss is \(loss) (try a lower --learning-rate)"
        }
    }
}
