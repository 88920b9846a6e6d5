// Published shapes of well-known Llama-family checkpoints, so `lorikeet estimate --config`
// can answer "will it fit?" before anything is downloaded. Shapes only (no weights, no
// tokenizer); each entry copies the model's config.json on the Hugging Face Hub.
// Parameter counts these give are checked against the published totals in EstimateTests.
import Llama

/// Errors of named configurations.
public enum NamedConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The name is not one we know; carries the known names.
    case unknown(String, known: [String])

    public var description: String {
        switch self {
        case let .unknown(name, known):
            "unknown model configuration '\(name)' (known: \(known.joined(separator: ", ")))"
        }
    }
}

/// Shapes of well-known checkpoints by short name (e.g. "llama-3-8b", "qwen2.5-0.5b").
public enum NamedConfigurations {
    /// Every known name, in a stable order (small to large within a family).
    public static let names: [String] = table.map(\.0)

    /// The shape published for `name` (case-insensitive; "_" and "-" are interchangeable).
    /// Throws `NamedConfigurationError.unknown` listing the known names.
    public static func configuration(named name: String) throws -> LlamaConfiguration {
        let key = name.lowercased().replacingOccurrences(of: "_", with: "-")
        guard let entry = table.first(where: { $0.0 == key }) else {
            throw NamedConfigurationError.unknown(name, known: names)
        }
        return entry.1
    }

    private static let llama3Scaling8 = RopeScaling.llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4,
                                                            originalMaxPositions: 8192)
    private static let llama3Scaling32 = RopeScaling.llama3(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4,
                                                             originalMaxPositions: 8192)

    // (name, shape). Sources: the config.json of HuggingFaceTB/SmolLM2-*, TinyLlama/TinyLlama-1.1B-Chat-v1.0,
    // meta-llama/Llama-2-*-hf, Meta-Llama-3-8B, Llama-3.1-8B, Llama-3.2-1B/3B, mistralai/Mistral-7B-v0.1,
    // Qwen/Qwen2.5-*, Qwen/Qwen3-*, HuggingFaceTB/SmolLM3-3B, google/gemma-3-270m and -1b,
    // google/gemma-2-2b, microsoft/Phi-3-mini-4k-instruct and Phi-4-mini-instruct.
    private static let table: [(String, LlamaConfiguration)] = [
        ("smollm2-135m", LlamaConfiguration(
            vocabularySize: 49152, hiddenSize: 576, intermediateSize: 1536, layerCount: 30, attentionHeads: 9, kvHeads: 3,
            headDim: 64, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositions: 8192, tieWordEmbeddings: true,
            bosTokenID: 1, eosTokenIDs: [2])),
        ("smollm2-360m", LlamaConfiguration(
            vocabularySize: 49152, hiddenSize: 960, intermediateSize: 2560, layerCount: 32, attentionHeads: 15, kvHeads: 5,
            headDim: 64, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositions: 8192, tieWordEmbeddings: true,
            bosTokenID: 1, eosTokenIDs: [2])),
        ("smollm2-1.7b", LlamaConfiguration(
            vocabularySize: 49152, hiddenSize: 2048, intermediateSize: 8192, layerCount: 24, attentionHeads: 32, kvHeads: 32,
            headDim: 64, rmsNormEps: 1e-5, ropeTheta: 130_000, maxPositions: 8192, tieWordEmbeddings: true,
            bosTokenID: 1, eosTokenIDs: [2])),
        ("tinyllama-1.1b", LlamaConfiguration(
            vocabularySize: 32000, hiddenSize: 2048, intermediateSize: 5632, layerCount: 22, attentionHeads: 32, kvHeads: 4,
            headDim: 64, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 2048, bosTokenID: 1, eosTokenIDs: [2])),
        ("llama-2-7b", LlamaConfiguration(
            vocabularySize: 32000, hiddenSize: 4096, intermediateSize: 11008, layerCount: 32, attentionHeads: 32, kvHeads: 32,
            headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 4096, bosTokenID: 1, eosTokenIDs: [2])),
        ("llama-2-13b", LlamaConfiguration(
            vocabularySize: 32000, hiddenSize: 5120, intermediateSize: 13824, layerCount: 40, attentionHeads: 40, kvHeads: 40,
            headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 4096, bosTokenID: 1, eosTokenIDs: [2])),
        ("llama-3-8b", LlamaConfiguration(
            vocabularySize: 128_256, hiddenSize: 4096, intermediateSize: 14336, layerCount: 32, attentionHeads: 32, kvHeads: 8,
            headDim: 128, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositions: 8192,
            bosTokenID: 128_000, eosTokenIDs: [128_001])),
        ("llama-3.1-8b", LlamaConfiguration(
            vocabularySize: 128_256, hiddenSize: 4096, intermediateSize: 14336, layerCount: 32, attentionHeads: 32, kvHeads: 8,
            headDim: 128, rmsNormEps: 1e-5, ropeTheta: 500_000, ropeScaling: llama3Scaling8, maxPositions: 131_072,
            bosTokenID: 128_000, eosTokenIDs: [128_001])),
        ("llama-3.2-1b", LlamaConfiguration(
            vocabularySize: 128_256, hiddenSize: 2048, intermediateSize: 8192, layerCount: 16, attentionHeads: 32, kvHeads: 8,
            headDim: 64, rmsNormEps: 1e-5, ropeTheta: 500_000, ropeScaling: llama3Scaling32, maxPositions: 131_072,
            tieWordEmbeddings: true, bosTokenID: 128_000, eosTokenIDs: [128_001])),
        ("llama-3.2-3b", LlamaConfiguration(
            vocabularySize: 128_256, hiddenSize: 3072, intermediateSize: 8192, layerCount: 28, attentionHeads: 24, kvHeads: 8,
            headDim: 128, rmsNormEps: 1e-5, ropeTheta: 500_000, ropeScaling: llama3Scaling32, maxPositions: 131_072,
            tieWordEmbeddings: true, bosTokenID: 128_000, eosTokenIDs: [128_001])),
        ("mistral-7b", LlamaConfiguration(
            modelType: "mistral", vocabularySize: 32000, hiddenSize: 4096, intermediateSize: 14336, layerCount: 32,
            attentionHeads: 32, kvHeads: 8, headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 32768,
            bosTokenID: 1, eosTokenIDs: [2])),
        ("qwen2.5-0.5b", LlamaConfiguration(
            modelType: "qwen2", vocabularySize: 151_936, hiddenSize: 896, intermediateSize: 4864, layerCount: 24,
            attentionHeads: 14, kvHeads: 2, headDim: 64, rmsNormEps: 1e-6, ropeTheta: 1_000_000, maxPositions: 32768,
            tieWordEmbeddings: true, attentionBias: true, bosTokenID: 151_643, eosTokenIDs: [151_643])),
        ("qwen2.5-1.5b", LlamaConfiguration(
            modelType: "qwen2", vocabularySize: 151_936, hiddenSize: 1536, intermediateSize: 8960, layerCount: 28,
            attentionHeads: 12, kvHeads: 2, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 1_000_000, maxPositions: 131_072,
            tieWordEmbeddings: true, attentionBias: true, bosTokenID: 151_643, eosTokenIDs: [151_643])),
        ("qwen2.5-7b", LlamaConfiguration(
            modelType: "qwen2", vocabularySize: 152_064, hiddenSize: 3584, intermediateSize: 18944, layerCount: 28,
            attentionHeads: 28, kvHeads: 4, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 1_000_000, maxPositions: 131_072,
            attentionBias: true, bosTokenID: 151_643, eosTokenIDs: [151_643])),
        ("qwen3-0.6b", qwen3(hidden: 1024, intermediate: 3072, layers: 28, heads: 16, tied: true)),
        ("qwen3-1.7b", qwen3(hidden: 2048, intermediate: 6144, layers: 28, heads: 16, tied: true)),
        ("qwen3-4b", qwen3(hidden: 2560, intermediate: 9728, layers: 36, heads: 32, tied: true)),
        ("qwen3-8b", qwen3(hidden: 4096, intermediate: 12288, layers: 36, heads: 32, tied: false)),
        ("smollm3-3b", LlamaConfiguration(
            modelType: "smollm3", vocabularySize: 128_256, hiddenSize: 2048, intermediateSize: 11008, layerCount: 36,
            attentionHeads: 16, kvHeads: 4, headDim: 128, rmsNormEps: 1e-6, ropeTheta: 5_000_000, maxPositions: 65536,
            tieWordEmbeddings: true, bosTokenID: nil, eosTokenIDs: [128_012],
            noRopeLayers: Set((0..<36).filter { ($0 + 1) % 4 == 0 }))),
        ("gemma3-270m", gemma3(hidden: 640, intermediate: 2048, layers: 18, heads: 4)),
        ("gemma3-1b", gemma3(hidden: 1152, intermediate: 6912, layers: 26, heads: 4)),
        ("gemma2-2b", LlamaConfiguration(
            modelType: "gemma2", vocabularySize: 256_000, hiddenSize: 2304, intermediateSize: 9216, layerCount: 26,
            attentionHeads: 8, kvHeads: 4, headDim: 256, rmsNormEps: 1e-6, ropeTheta: 10_000, maxPositions: 8192,
            tieWordEmbeddings: true, bosTokenID: 2, eosTokenIDs: [1],
            gemma: GemmaSettings(queryPreAttnScalar: 256, slidingWindow: 4096,
                                 slidingLayers: GemmaSettings.defaultSlidingLayers(count: 26, pattern: 2), localRopeTheta: 10_000,
                                 attentionSoftcap: 50, finalLogitSoftcap: 30),
            paddingTokenID: 0)),
        ("phi-3-mini", LlamaConfiguration(
            modelType: "phi3", vocabularySize: 32064, hiddenSize: 3072, intermediateSize: 8192, layerCount: 32,
            attentionHeads: 32, kvHeads: 32, headDim: 96, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 4096,
            bosTokenID: 1, eosTokenIDs: [32000], fusedProjections: true, slidingWindow: 2047, paddingTokenID: 32000)),
        // Phi-4-mini's LongRoPE factor lists are left out: they change no shape or memory figure.
        ("phi-4-mini", LlamaConfiguration(
            modelType: "phi3", vocabularySize: 200_064, hiddenSize: 3072, intermediateSize: 8192, layerCount: 32,
            attentionHeads: 24, kvHeads: 8, headDim: 128, rmsNormEps: 1e-5, ropeTheta: 10_000, maxPositions: 131_072,
            tieWordEmbeddings: true, bosTokenID: 199_999, eosTokenIDs: [199_999, 200_020], fusedProjections: true,
            rotaryDimensions: 96, slidingWindow: 262_144, paddingTokenID: 199_999)),
    ]

    /// google/gemma-3-270m, -1b (text): one KV head of 256, q/k norms, (1 + w) norms, sliding window
    /// 512 on 5 of every 6 layers, local RoPE base 1e4, global 1e6, 262 144 tokens, tied head.
    private static func gemma3(hidden: Int, intermediate: Int, layers: Int, heads: Int) -> LlamaConfiguration {
        LlamaConfiguration(modelType: "gemma3", vocabularySize: 262_144, hiddenSize: hidden, intermediateSize: intermediate,
                           layerCount: layers, attentionHeads: heads, kvHeads: 1, headDim: 256, rmsNormEps: 1e-6,
                           ropeTheta: 1_000_000, maxPositions: 32768, tieWordEmbeddings: true, bosTokenID: 2, eosTokenIDs: [1],
                           queryKeyNorm: true,
                           gemma: GemmaSettings(queryPreAttnScalar: 256, slidingWindow: 512,
                                                slidingLayers: GemmaSettings.defaultSlidingLayers(count: layers), localRopeTheta: 10_000))
    }

    /// Qwen/Qwen3-*: 8 KV heads of 128, q/k norms, no biases, rope_theta 1e6, 40 960 positions.
    private static func qwen3(hidden: Int, intermediate: Int, layers: Int, heads: Int, tied: Bool) -> LlamaConfiguration {
        LlamaConfiguration(modelType: "qwen3", vocabularySize: 151_936, hiddenSize: hidden, intermediateSize: intermediate,
                           layerCount: layers, attentionHeads: heads, kvHeads: 8, headDim: 128, rmsNormEps: 1e-6,
                           ropeTheta: 1_000_000, maxPositions: 40960, tieWordEmbeddings: tied, bosTokenID: 151_643,
                           eosTokenIDs: [151_645], queryKeyNorm: true)
    }
}
