// The inputs and the answer of the memory estimator: which method, how the base weights are
// stored, which optimizer, and the resulting bytes by component and by phase of a step.
// Sizes are resident bytes (what peak RSS counts), not virtual address space.
import Llama

/// How the base model's weights sit in memory once loaded.
public struct BaseStorage: Sendable, Equatable {
    /// Bytes per weight held in memory the process owns: 4 when the loader dequantized or
    /// widened to f32 (a GGUF with block-quantized or f16 tensors), 0 for zero-copy views.
    public var ownedBytesPerWeight: Double
    /// Bytes per weight of the model file's mapped pages; every page is touched (at load, or
    /// by each step's products), so all of it is resident (clean pages the kernel may reclaim).
    public var mappedBytesPerWeight: Double

    /// Creates a storage description.
    public init(ownedBytesPerWeight: Double, mappedBytesPerWeight: Double) {
        self.ownedBytesPerWeight = ownedBytesPerWeight
        self.mappedBytesPerWeight = mappedBytesPerWeight
    }

    /// A safetensors folder in f32: weights viewed from the mapped files.
    public static let f32 = BaseStorage(ownedBytesPerWeight: 0, mappedBytesPerWeight: 4)
    /// A safetensors folder in bf16 or f16: mapped views, widened into a scratch per product.
    public static let bf16 = BaseStorage(ownedBytesPerWeight: 0, mappedBytesPerWeight: 2)
    /// Weights built in memory as f32 (random init, tests): no file.
    public static let ownedF32 = BaseStorage(ownedBytesPerWeight: 4, mappedBytesPerWeight: 0)

    /// A GGUF file: the loader dequantizes every tensor to owned f32 (F32 tensors are viewed in
    /// place) and keeps the file mapped. `bitsPerWeight` is the file's average (file bytes · 8 / weights).
    public static func gguf(bitsPerWeight: Double) -> BaseStorage {
        BaseStorage(ownedBytesPerWeight: 4, mappedBytesPerWeight: bitsPerWeight / 8)
    }

    /// Weights are narrower than f32 in memory: each product widens its weight into a scratch.
    public var isNarrow: Bool { ownedBytesPerWeight < 4 && mappedBytesPerWeight < 4 }

    /// How the loader holds `source`'s weights: folders are viewed in place (narrower ones
    /// widened per product), a GGUF is dequantized to owned f32 with the file kept mapped.
    public init(_ source: ModelSource) {
        switch source.storage {
        case let .dense(bytes), let .bitsAndBytes4Bit(_, bytes): self.init(ownedBytesPerWeight: 0, mappedBytesPerWeight: bytes)
        case let .ggml(bytes, _): self = .gguf(bitsPerWeight: bytes * 8)
        }
    }
}

/// A part of the process's memory.
public enum MemoryComponent: String, Sendable, CaseIterable, Codable {
    case baseWeights = "base weights"
    /// Mapped model-file pages read by every step (the weights' only copy when viewed in place).
    case mappedFile = "mapped file pages"
    /// Mapped pages touched once (while dequantizing or re-encoding at load) and not read again:
    /// resident until the kernel needs the memory, then dropped without cost.
    case coldMappedFile = "mapped file pages (cold)"
    case adapters = "adapters"
    case gradients = "gradients"
    case optimizerState = "optimizer state"
    case activations = "activations"
    case lossBuffers = "logits / loss buffers"
    case backwardTransient = "backward transient"
    case widenScratch = "widened-weight scratch"
    case allocatorCache = "allocator cache"
    case process = "tokenizer + process"
}

/// Estimated resident memory of a training run.
public struct MemoryEstimate: Sendable, Equatable {
    /// One phase of a step (or of loading) and what is alive during it.
    public struct Phase: Sendable, Equatable {
        /// "load", "forward/backward" or "optimizer step".
        public var name: String
        /// Bytes alive per component during this phase.
        public var parts: [MemoryComponent: Int]
        /// Sum of the parts.
        public var bytes: Int { parts.values.reduce(0, +) }
    }

    /// The method estimated.
    public var method: FineTuningMethod
    /// Weights of the base model.
    public var parameterCount: Int
    /// Weights that train (the adapter's for LoRA/QLoRA, every weight for full fine-tuning).
    public var trainableParameters: Int
    /// What is alive in each phase.
    public var phases: [Phase]

    /// The largest phase: the estimated peak resident memory.
    public var peakPhase: Phase { phases.max { $0.bytes < $1.bytes }! }

    /// Estimated peak resident memory in bytes (the largest phase).
    public var total: Int { peakPhase.bytes }

    /// Each component's largest size over the phases, in display order. Their sum is at
    /// least `total`: gradients and activations, for example, are not at full size at once.
    public var components: [(component: MemoryComponent, bytes: Int)] {
        MemoryComponent.allCases.map { c in (c, phases.map { $0.parts[c] ?? 0 }.max() ?? 0) }
    }

    /// The peak without the cold mapped pages: the memory the run needs to fit in RAM. Cold
    /// file pages count in RSS (so in `total`) but the kernel drops them when memory is short.
    public var required: Int {
        phases.map { $0.bytes - ($0.parts[.coldMappedFile] ?? 0) }.max() ?? 0
    }

    /// The bytes of `component` at the peak.
    public func bytesAtPeak(_ component: MemoryComponent) -> Int { peakPhase.parts[component] ?? 0 }

    /// The largest size of `component` over the phases.
    public func bytes(_ component: MemoryComponent) -> Int { phases.map { $0.parts[component] ?? 0 }.max() ?? 0 }
}
