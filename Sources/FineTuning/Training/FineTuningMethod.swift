// What a run trains and how the frozen base is held: the one vocabulary shared by the
// trainer, the memory estimator and the command line. The settings file keeps it as flat
// keys (method, quant, blocksize, double-quant); this is the typed view of those keys.
import Quantization

/// How the frozen base's decoder linears are held by QLoRA.
public enum QLoRABase: Hashable, Sendable {
    /// Re-encoded as bitsandbytes 4-bit blocks: one absmax per `blockSize` weights, itself
    /// quantized to 8 bits when `doubleQuant` (bitsandbytes' compress_statistics).
    case fourBit(FourBitType, blockSize: Int = 64, doubleQuant: Bool = true)
    /// Kept as the file stores them: a GGUF's own quantized blocks, or a bitsandbytes 4-bit
    /// folder's codes, widened right before each product (no re-quantization).
    case keep

    /// NF4 with 64-weight blocks and double quantization (QLoRA's recipe).
    public static let nf4 = QLoRABase.fourBit(.nf4)
}

/// What is trained.
public enum FineTuningMethod: Hashable, Sendable {
    /// Every weight trains (converted to owned f32, with f32 gradients and optimizer state).
    case full
    /// LoRA pairs over the frozen base as loaded.
    case lora
    /// LoRA pairs over a frozen base whose decoder linears are held quantized.
    case qlora(QLoRABase)

    /// "full", "lora", "qlora" or "qlora-keep".
    public var name: String {
        switch self {
        case .full: "full"
        case .lora: "lora"
        case .qlora(.keep): "qlora-keep"
        case .qlora: "qlora"
        }
    }

    /// True for the methods that train adapters over a frozen base.
    public var usesAdapter: Bool { self != .full }

    /// The settings-file name of the method (lora, qlora or full).
    public var kind: TrainingMethod {
        switch self {
        case .full: .full
        case .lora: .lora
        case .qlora: .qlora
        }
    }

    /// How a summary names it: "LoRA", "QLoRA (nf4)", "Full fine-tuning".
    public var displayName: String {
        switch self {
        case .full: "Full fine-tuning"
        case .lora: "LoRA"
        case .qlora(.keep): "QLoRA (keep)"
        case let .qlora(.fourBit(type, _, _)): "QLoRA (\(type.rawValue))"
        }
    }

    /// Bits per weight of a 4-bit block encoding (bitsandbytes' layout): 4 for the code, the
    /// absmax (f32, or 8 bits plus one f32 per 256 absmax values and a mean with double quantization).
    public static func fourBitBitsPerWeight(blockSize: Int, doubleQuant: Bool) -> Double {
        let b = Double(max(blockSize, 1))
        return doubleQuant ? 4 + 8 / b + 32 / (b * 256) : 4 + 32 / b
    }
}
