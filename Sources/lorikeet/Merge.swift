// `lorikeet merge`: fold a LoRA adapter into the base weights and write a Hugging Face
// folder (config, safetensors, tokenizer files) that Lorikeet and transformers both load.
import ArgumentParser
import Foundation
import TensorCore
import Llama
import FineTuning

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA adapter into its base model and save a Hugging Face folder.")

    @OptionGroup var model: ModelOption
    @Option(help: "The adapter folder (PEFT layout).") var adapter: String
    @Option(help: "The folder to write.") var out: String
    @Option(help: "Stored precision of the merged weights: f32, f16 or bf16.") var dtype: String = "f32"
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        guard let storage = DType(rawValue: dtype), [.f32, .f16, .bf16].contains(storage) else {
            throw ValidationError("--dtype must be f32, f16 or bf16")
        }
        let outURL = URL(fileURLWithPath: out)
        if outURL.standardizedFileURL.path == URL(fileURLWithPath: model.model).standardizedFileURL.path {
            throw ValidationError("--out must not be the base model's folder")
        }
        let loaded = try ModelLoader.load(model.model)
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), for: loaded.model)
        let weights = try lora.mergedWeights(of: loaded.model)
        try ModelExport.writeFolder(weights: weights, configuration: loaded.model.configuration, source: loaded, to: outURL,
                                    dtype: storage, metadata: ["merged_adapter": adapter])
        print("merged \(lora.layers.count) LoRA pairs into \(outURL.path) (\(storage.rawValue))")
    }
}
