// `lorikeet merge`: fold a LoRA adapter into the base weights and write a Hugging Face
// folder (config, safetensors, tokenizer files) that Lorikeet and transformers both load.
// The merged weights are written dequantized (f32/f16/bf16) unless --requantize asks for
// 4 bits again, which rounds the adapter's change away in part: we measure and say how much.
import ArgumentParser
import Foundation
import TensorCore
import Quantization
import Llama
import FineTuning

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA adapter into its base model and save a Hugging Face folder.",
        discussion: """
        A 4-bit base (a bitsandbytes folder, or a GGUF's blocks) is dequantized and the adapter added. That \
        is the model the adapter was trained against when it trained on those same codes (a 4-bit folder, or \
        --quant keep on the GGUF); an adapter trained with --quant nf4 on a GGUF learned against NF4-rounded \
        weights instead (merge onto the `lorikeet quantize` output of that GGUF for that). --requantize stores \
        the decoder linears in 4 bits again (bitsandbytes layout), which rounds part of the adapter away.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "The adapter folder (PEFT layout).") var adapter: String
    @Option(help: "The folder to write.") var out: String
    @Option(help: "Stored precision of the merged (unquantized) weights: f32, f16 or bf16.") var dtype: String = "f32"
    @Flag(help: "Quantize the merged linears to 4 bits (with --quant/--blocksize/--double-quant); loses precision.")
    var requantize = false
    @OptionGroup var fourBit: FourBitOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let storage = try storageDType(dtype)
        let outURL = try outputFolder(out, model: model.model)
        let quantize = requantize ? try fourBit.quantizer() : nil
        let source = try model.open()
        if requantize, let base = source.fourBitFolder {
            let (stored, storedDouble) = (base.type.rawValue, base.doubleQuant)
            guard stored == fourBit.quant, storedDouble == fourBit.doubleQuant else {
                throw CommandFailure("\(model.model) is \(stored.uppercased()) \(storedDouble ? "with" : "without") double quantization; "
                    + "layers the adapter does not touch keep those codes, so --requantize must match: "
                    + "--quant \(stored) --\(storedDouble ? "" : "no-")double-quant")
            }
        }
        // A GGUF's quantized blocks stay as they are until each layer is written (not a whole f32 copy).
        let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), for: loaded.model)
        if let quantize {
            let (weights, ratio) = try lora.requantizedMergedWeights(of: loaded.model, quantize: quantize)
            FileHandle.standardError.write(Data(String(format:
                "warning: --requantize rounds the merged weights to %@: the rounding error is %.0f%% of the adapter's change "
                + "(root-sum-square over the merged layers). Keep the adapter, or merge without --requantize, for exact results.\n",
                fourBit.quant.uppercased(), 100 * ratio).utf8))
            try ModelExport.writeFolder(weights: weights, configuration: loaded.model.configuration, source: loaded, to: outURL,
                                        dtype: storage, keepFourBit: true, metadata: ["merged_adapter": adapter])
        } else {
            // Each adapted weight is merged right before it is written: one merged layer in memory at a time.
            try ModelExport.writeFolder(weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration,
                                        source: loaded, to: outURL, dtype: storage, metadata: ["merged_adapter": adapter],
                                        adjust: lora.merged)
        }
        print("merged \(lora.layers.count) LoRA pairs into \(outURL.path) (\(requantize ? fourBit.summary + ", other tensors " : "")\(storage.rawValue))")
    }
}
