// How a QLoRA run loads its base: decoder linear weights re-encoded as NF4/FP4 (bitsandbytes'
// scheme) or kept in the GGUF's own blocks (`quant: keep`), each widened only right before
// its product. LoRA and full fine-tuning load weights as stored; with `bf16-base`, LoRA and
// QLoRA hold the frozen embeddings, head and norms in bf16.
import Foundation
import TensorCore
import Quantization
import Llama

extension TrainingConfiguration {
    /// The load options this configuration's method needs.
    public func loadOptions() -> LoadOptions {
        var options = LoadOptions(unquantizedDType: bf16Base ? .bf16 : nil)
        guard method == .qlora else { return options }
        switch quantization {
        case .keep:
            options.keepGGUFBlocks = true
        case .nf4, .fp4:
            options.linearQuantizer = FourBitMatrix.quantizer(type: quantization == .nf4 ? .nf4 : .fp4,
                                                              blockSize: quantizationBlockSize, doubleQuant: doubleQuantization)
        }
        return options
    }
}
