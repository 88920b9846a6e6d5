// Options shared by `generate` and `chat`: the model, sampling and stopping.
import ArgumentParser
import Llama
import Foundation
import FineTuning

struct ModelOption: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face model folder, a .gguf file, ollama:NAME[:TAG] or hf:ORG/NAME[/FILE.gguf][@REVISION].")
    var model: String
}

/// --exact-decode: how the weights of a quantized GGUF multiply when generating.
struct DecodeOption: ParsableArguments {
    @Flag(name: .customLong("exact-decode"),
          help: "GGUF: multiply the quantized weights with f32 activations (exactly the dequantized model's numbers, slower) instead of rounding activations to 8 bits for integer dot products, as llama.cpp does.")
    var exact = false
    @Option(name: .customLong("kv-cache"), help: "How the KV cache stores keys and values: f32, or f16 (half the memory; values rounded to binary16, as llama.cpp does).")
    var kvCache: KVCacheStorage = .f32

    /// Loads `source` for generation (a GGUF keeps its blocks; a folder loads as usual), the
    /// KV cache setting on the model.
    func load(_ source: ModelSource) throws -> LoadedModel {
        let loaded = try ModelLoader.load(source, options: source.format == .gguf ? .generation(exact: exact) : LoadOptions())
        loaded.model.kvCacheDType = kvCache == .f16 ? .f16 : .f32
        return loaded
    }
}

enum KVCacheStorage: String, ExpressibleByArgument, CaseIterable {
    case f32, f16
}

/// --adapter: LoRA adapters (PEFT or mlx-lm folders, GGUF files) to load on top of the base.
struct AdapterOption: ParsableArguments {
    @Option(name: .customLong("adapter"), help: "A LoRA adapter: a PEFT folder, a GGUF LoRA file or an mlx-lm folder; repeat to load several (the first is active).")
    var adapters: [String] = []

    /// Loads every adapter for `model` and attaches the first; returns them by folder name.
    func load(into model: LlamaModel) throws -> [(name: String, adapter: LoRAAdapter)] {
        var out: [(String, LoRAAdapter)] = []
        for path in adapters {
            out.append((URL(fileURLWithPath: path).lastPathComponent == "adapter"
                        ? URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
                        : URL(fileURLWithPath: path).lastPathComponent,
                        try LoRAAdapter.load(from: URL(fileURLWithPath: path), for: model)))
        }
        if let first = out.first { try first.1.attach(to: model) }
        return out
    }
}

struct SamplingArguments: ParsableArguments {
    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens (0 = all).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Sample among the most likely tokens whose probability reaches p.") var topP: Float = 1
    @Option(name: .customLong("repetition-penalty"), help: "> 1 discourages repeating tokens of the context.") var repetitionPenalty: Float = 1
    @Option(help: "Seed of the sampling stream.") var seed: UInt64 = 0
    @Option(name: .customLong("stop"), help: "Stop when the output contains this text (repeatable).") var stopStrings: [String] = []

    func validate() throws {
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be > 0") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
    }

    var options: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty, seed: seed)
    }
}
