// Writing a model as a Hugging Face folder that transformers and Lorikeet both load:
// config.json, model.safetensors (f32, f16 or bf16) and the tokenizer files — copied from a
// source folder, or generated from GGUF metadata for a GGUF source. The folder is written
// atomically: an existing one is replaced only once the new one is complete.
import Foundation
import TensorCore
import ModelFormats
import Tokenizers

/// Saves models as Hugging Face folders.
public enum ModelExport {
    /// Files copied from a source model folder when present.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                                 "generation_config.json", "tokenizer.model"]

    /// Writes `weights` (Hugging Face names) with `configuration` and the tokenizer of
    /// `source` to the folder `url`, storing floating-point tensors as `dtype`.
    public static func writeFolder(weights: [String: Tensor], configuration: LlamaConfiguration, source: LoadedModel,
                                   to url: URL, dtype: DType = .f32, metadata: [String: String] = [:]) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw ConfigurationError.invalid(field: "dtype", reason: "must be f32, f16 or bf16", source: url.path)
        }
        let config = try configuration.huggingFaceJSON(dtype: dtype)
        var tensors: [(String, Tensor)] = []
        for name in weights.keys.sorted() {
            if name == "lm_head.weight" && configuration.tieWordEmbeddings { continue }
            let t = weights[name]!
            tensors.append((name, dtype == .f32 ? t.widened() : t.widened().narrowed(to: dtype)))
        }
        var meta = metadata
        meta["format"] = "pt"
        try AtomicFile.writeDirectory(at: url) { dir in
            try config.write(to: dir.appendingPathComponent("config.json"))
            try SafetensorsWriter.write(tensors, metadata: meta, to: dir.appendingPathComponent("model.safetensors"))
            if source.format == "gguf" {
                let gguf = try GGUFFile(path: source.path)
                try TokenizerExport.write(try ModelLoader.tokenizerData(gguf: gguf), to: dir,
                                          modelMaxLength: configuration.maxPositions)
            } else {
                let src = URL(fileURLWithPath: source.path)
                for f in tokenizerFiles where FileManager.default.fileExists(atPath: src.appendingPathComponent(f).path) {
                    try FileManager.default.copyItem(at: src.appendingPathComponent(f), to: dir.appendingPathComponent(f))
                }
            }
        }
    }
}
