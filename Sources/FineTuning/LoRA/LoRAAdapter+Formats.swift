// Which adapter layout a path holds, told from the files themselves: a GGUF LoRA file, an
// mlx-lm adapter folder (adapters.safetensors + adapter_config.json with lora_parameters) or a
// PEFT folder (adapter_config.json + adapter_model.safetensors). `load` reads any of them.
import Foundation
import ModelFormats
import Llama

/// The adapter layouts Lorikeet reads and writes.
public enum AdapterFormat: String, Sendable, CaseIterable {
    /// PEFT: adapter_config.json + adapter_model.safetensors (Lorikeet's own layout).
    case peft
    /// One GGUF file (llama.cpp, Ollama).
    case gguf
    /// mlx-lm: adapter_config.json + adapters.safetensors.
    case mlx

    /// The layout at `url`, or nil when nothing there looks like an adapter.
    public static func detect(_ url: URL) -> AdapterFormat? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue {
            guard let h = FileHandle(forReadingAtPath: url.path) else { return nil }
            defer { try? h.close() }
            return h.readData(ofLength: 4) == Data("GGUF".utf8) ? .gguf : nil
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent("adapters.safetensors").path) { return .mlx }
        if fm.fileExists(atPath: url.appendingPathComponent("adapter_config.json").path) { return .peft }
        return nil
    }
}

extension LoRAAdapter {
    /// Reads the adapter at `url` for `model`, in whichever layout it is (PEFT folder, GGUF
    /// file, mlx-lm folder). Errors name the file and what was expected.
    public static func load(from url: URL, for model: LlamaModel, trainable: Bool = false) throws -> LoRAAdapter {
        switch AdapterFormat.detect(url) {
        case .gguf: return try loadGGUF(from: url, for: model, trainable: trainable)
        case .mlx: return try loadMLX(from: url, for: model, trainable: trainable)
        case .peft: return try loadPEFT(from: url, for: model, trainable: trainable)
        case nil:
            if FileManager.default.fileExists(atPath: url.path) {
                throw LoRAError.invalidAdapter(file: url.path, reason: "is not an adapter: expected a PEFT folder (adapter_config.json "
                    + "+ adapter_model.safetensors), an mlx-lm folder (adapters.safetensors) or a GGUF LoRA file")
            }
            // A missing folder reads as PEFT, whose error names the file it looked for.
            return try loadPEFT(from: url, for: model, trainable: trainable)
        }
    }
}
