// How a QLoRA run loads its base: decoder linear weights kept in the GGUF's own blocks
// (`quant: keep`), each widened only right before its product. LoRA and full fine-tuning
// load weights as stored.
import Foundation
import TensorCore
import Quantization
import Llama

extension TrainingConfiguration {
    /// The load options this configuration's method needs.
    public func loadOptions() -> LoadOptions {
        guard method == .qlora else { return LoadOptions() }
        switch quantization {
        case .keep:
            return LoadOptions(keepGGUFBlocks: true)
        }
    }
}
