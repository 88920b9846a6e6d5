// `lorikeet export`: a trained adapter out to the tools people run models in — a GGUF LoRA
// file for llama.cpp (`--lora`), a folder Ollama creates a model from (Modelfile + GGUF
// adapter), an mlx-lm adapter folder (`--adapter-path`), or a PEFT folder again.
import ArgumentParser
import Foundation
import TensorCore
import Quantization
import Llama
import ModelFormats
import FineTuning
import ModelStores

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a LoRA adapter for llama.cpp (gguf), Ollama (ollama), mlx-lm (mlx) or PEFT (peft).",
        discussion: """
        gguf: one file as llama.cpp's convert_lora_to_gguf.py writes it; run it with `llama-cli -m BASE.gguf --lora OUT.gguf`. \\
        Each pair computes exactly the change it makes here: llama.cpp scales by adapter.lora.alpha / r, and where our \\
        scale differs (rsLoRA, alpha or rank patterns) the ratio is multiplied into lora_b.

        ollama: a folder with adapter.gguf and a Modelfile (FROM the base GGUF — written into the folder as --base-quant \\
        when the base is a Hugging Face folder — ADAPTER, the stop tokens, and a TEMPLATE only when the base has no chat \\
        template for Ollama to read). Then run the printed `ollama create` line.

        mlx: adapters.safetensors + adapter_config.json as mlx_lm.lora saves them; run `mlx_lm.generate --model BASE_FOLDER \\
        --adapter-path OUT`. mlx-lm has one rank and scale per file: other ranks are zero-padded, other scales folded into \\
        lora_b, so the result is exact.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "The adapter: a PEFT folder, a GGUF LoRA file or an mlx-lm adapter folder.") var adapter: String
    @Option(help: "gguf, ollama, mlx or peft.") var format: String
    @Option(help: "The file (gguf) or folder (ollama, mlx, peft) to write.") var out: String
    @Option(help: "Adapter tensor type for gguf and ollama: f32, f16, bf16 or q8_0.") var dtype: String = "f32"
    @Option(help: "ollama: the model name in the printed `ollama create` line (default: the adapter's folder name).") var name: String?
    @Option(name: .customLong("base-quant"), help: "ollama with a Hugging Face base: the GGUF type the base is written in (f16, q8_0, q4_k, …).")
    var baseQuant: String = "f16"
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ["gguf", "ollama", "mlx", "peft"].contains(format) else { throw ValidationError("--format must be gguf, ollama, mlx or peft") }
        _ = try adapterType()
        if format == "ollama" { _ = try baseType() }
    }

    /// --base-quant as a GGUF model type.
    func baseType() throws -> GGMLType {
        guard let t = GGMLType(name: baseQuant), ModelExport.ggufModelTypes.contains(t) else {
            throw ValidationError("--base-quant must be one of " + ModelExport.ggufModelTypes.map { $0.name.lowercased() }.joined(separator: ", "))
        }
        return t
    }

    func adapterType() throws -> GGMLType {
        guard let t = GGMLType(name: dtype), LoRAAdapter.ggufTypes.contains(t) else {
            throw ValidationError("--dtype must be f32, f16, bf16 or q8_0")
        }
        return t
    }

    func run() throws {
        compute.apply()
        let outURL = try outputFolder(out, model: model.model)
        if outURL.standardizedFileURL.path == URL(fileURLWithPath: adapter).standardizedFileURL.path {
            throw ValidationError("--out must not be the adapter's own path")
        }
        let source = try model.open()
        let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), for: loaded.model)
        let c = loaded.model.configuration
        let baseName = URL(fileURLWithPath: model.model).deletingPathExtension().lastPathComponent
        switch format {
        case "gguf":
            let fellBack = try lora.saveGGUF(to: outURL, base: c, baseName: baseName, type: try adapterType())
            noteFallback(fellBack)
            print("wrote \(outURL.path): \(lora.layers.count) LoRA pairs, adapter.lora.alpha \(lora.configuration.alpha)")
            print("run it: llama-cli -m \(model.model) --lora \(outURL.path)")
        case "ollama":
            try exportOllama(lora, loaded: loaded, to: outURL, baseName: baseName)
        case "mlx":
            try lora.saveMLX(to: outURL, baseModel: model.model, base: c)
            print("wrote \(outURL.path) (adapters.safetensors, adapter_config.json): \(lora.layers.count) LoRA pairs")
            if source.format == .gguf {
                print("mlx-lm loads Hugging Face folders: write the base as one with `lorikeet quantize --model \(model.model) "
                      + "--format safetensors --quant f32 --out BASE`, then `mlx_lm.generate --model BASE --adapter-path \(outURL.path)`")
            } else {
                print("run it: mlx_lm.generate --model \(model.model) --adapter-path \(outURL.path) --prompt \"…\"")
            }
        default:
            try lora.save(to: outURL, baseModel: model.model)
            print("wrote \(outURL.path) (PEFT): \(lora.layers.count) LoRA pairs")
        }
    }

    func noteFallback(_ names: [String]) {
        guard !names.isEmpty else { return }
        FileHandle.standardError.write(Data(("note: \(names.count) tensors have rows that are not whole Q8_0 blocks "
            + "(lora_b has r columns) and are stored as F16, as convert_lora_to_gguf.py does\n").utf8))
    }

    /// The Ollama folder: adapter.gguf, the base GGUF when it is not one already, the Modelfile.
    func exportOllama(_ lora: LoRAAdapter, loaded: LoadedModel, to outURL: URL, baseName: String) throws {
        let c = loaded.model.configuration
        let modelName = name ?? OllamaModelfile.modelName(adapterPath: adapter)
        let hasTemplate = loaded.chatTemplate != nil
        try AtomicFile.writeDirectory(at: outURL) { dir in
            noteFallback(try lora.saveGGUF(to: dir.appendingPathComponent("adapter.gguf"), base: c, baseName: baseName, type: try adapterType()))
            let from: String
            if case let .ollama(base) = loaded.source.origin {
                from = base.name.description   // the model Ollama already has, by name
            } else if loaded.format == .gguf {
                from = loaded.source.url.standardizedFileURL.path
            } else {
                let type = try baseType()
                let t0 = Date()
                let baseURL = dir.appendingPathComponent("model.gguf")
                let report = try ModelExport.writeGGUF(weights: loaded.model.parameters.mapValues(\.value), configuration: c, source: loaded,
                                                       to: baseURL, type: type, name: baseName)
                printGGUFReport(report, type: type, to: baseURL, since: t0)
                from = "./model.gguf"
            }
            let stops = loaded.stopTokenIDs.compactMap { loaded.tokenizer.token($0) }.sorted()
            let text = OllamaModelfile(from: from, adapter: "./adapter.gguf", stops: stops,
                                       template: hasTemplate ? nil : OllamaModelfile.chatMLTemplate).text
            try Data(text.utf8).write(to: dir.appendingPathComponent("Modelfile"))
        }
        print("wrote \(outURL.path) (Modelfile, adapter.gguf\(loaded.format == .gguf ? "" : ", model.gguf"))")
        if !hasTemplate { print("the base has no chat template: the Modelfile carries ChatML's, which Lorikeet uses for it too") }
        print("create the model: ollama create \(modelName) -f \(outURL.appendingPathComponent("Modelfile").path)")
    }
}
