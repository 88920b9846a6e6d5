// The shape of a Llama-family model, decoded from a Hugging Face config.json (keys mapped
// in CodingKeys) or filled from GGUF metadata. Families: Llama 2/3/3.1/3.2, Mistral,
// Qwen2/2.5 (q/k/v bias), Qwen3 (per-head q/k RMSNorm, no bias), SmolLM/SmolLM2, SmolLM3
// (no RoPE on every 4th layer), TinyLlama, Gemma 3 text (`gemma` settings). Anything else is
// refused by name.
import Foundation
import ModelFormats

/// How rotary frequencies are rescaled for long contexts.
public enum RopeScaling: Sendable, Equatable, Codable {
    /// Llama 3.1's frequency-band rescaling.
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalMaxPositions: Int)
    /// Positions divided by `factor`.
    case linear(factor: Float)
    /// Each inverse frequency divided by its own factor (GGUF's `rope_freqs.weight`).
    case frequencyFactors([Float])
}

/// Errors in a model's configuration.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The architecture (model_type / general.architecture) is not a Llama-family one we run.
    case unsupportedArchitecture(String, source: String)
    /// A value is missing or out of range.
    case invalid(field: String, reason: String, source: String)

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(name, source):
            "\(source): architecture '\(name)' is not supported (supported: \(LlamaConfiguration.supportedArchitectures.joined(separator: ", ")))"
        case let .invalid(field, reason, source):
            "\(source): \(field) \(reason)"
        }
    }
}

/// Everything needed to build a Llama-family model.
public struct LlamaConfiguration: Sendable, Equatable {
    /// "llama", "mistral", "qwen2", "qwen3", "smollm3" or "gemma3".
    public var modelType: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var attentionHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RopeScaling?
    public var maxPositions: Int
    public var tieWordEmbeddings: Bool
    /// Bias on q, k and v projections (Qwen2, or attention_bias).
    public var attentionBias: Bool
    /// Bias on the output projection (attention_bias in Llama configs; never in Qwen2).
    public var outputBias: Bool
    public var mlpBias: Bool
    public var bosTokenID: Int?
    public var eosTokenIDs: [Int]
    /// RMSNorm over each head of q and of k (weights `self_attn.q_norm` / `k_norm`, [head_dim])
    /// right before RoPE (Qwen3, Gemma 3).
    public var queryKeyNorm: Bool
    /// Decoder layers that skip RoPE (NoPE; SmolLM3's `no_rope_layers` zeros).
    public var noRopeLayers: Set<Int>
    /// Gemma 3's architecture choices (nil for the Llama family proper); see LlamaConfiguration+Gemma.swift.
    public var gemma: GemmaSettings?

    /// The architectures (config.json model_type) Lorikeet runs.
    public static let supportedArchitectures = ["llama", "mistral", "qwen2", "qwen3", "smollm3", "gemma3_text", "gemma2"]

    /// Creates a configuration from explicit values (tests, `--init random`, GGUF).
    public init(modelType: String = "llama", vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, attentionHeads: Int, kvHeads: Int, headDim: Int? = nil, rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10_000, ropeScaling: RopeScaling? = nil, maxPositions: Int = 2048,
                tieWordEmbeddings: Bool = false, attentionBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false,
                bosTokenID: Int? = 1, eosTokenIDs: [Int] = [2], queryKeyNorm: Bool = false, noRopeLayers: Set<Int> = [],
                gemma: GemmaSettings? = nil) {
        self.modelType = modelType
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.attentionHeads = attentionHeads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? hiddenSize / attentionHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maxPositions = maxPositions
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.outputBias = outputBias
        self.mlpBias = mlpBias
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        self.gemma = gemma
        self.queryKeyNorm = queryKeyNorm
        self.noRopeLayers = noRopeLayers
    }

    /// Checks sizes that the model code relies on; `source` names the file in errors.
    public func validate(source: String) throws {
        func bad(_ f: String, _ r: String) -> ConfigurationError { .invalid(field: f, reason: r, source: source) }
        for (name, v) in [("vocab_size", vocabularySize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                          ("num_hidden_layers", layerCount), ("num_attention_heads", attentionHeads),
                          ("num_key_value_heads", kvHeads), ("head_dim", headDim), ("max_position_embeddings", maxPositions)] {
            guard v > 0, v < 1 << 24 else { throw bad(name, "is \(v), expected a positive size") }
        }
        guard attentionHeads % kvHeads == 0 else {
            throw bad("num_key_value_heads", "(\(kvHeads)) must divide num_attention_heads (\(attentionHeads))")
        }
        guard headDim % 2 == 0 else { throw bad("head_dim", "(\(headDim)) must be even for rotary embedding") }
        guard ropeTheta > 0 else { throw bad("rope_theta", "must be positive") }
        if let gemma { try gemma.validate(layerCount: layerCount, source: source) }
        if let l = noRopeLayers.first(where: { $0 < 0 || $0 >= layerCount }) { throw bad("no_rope_layers", "names layer \(l) of \(layerCount)") }
    }

    /// Rotary inverse frequencies, with scaling applied, in float32 as transformers computes them.
    public var ropeInverseFrequencies: [Float] {
        let base: [Float] = (0..<(headDim / 2)).map { i in
            1 / powf(ropeTheta, Float(2 * i) / Float(headDim))
        }
        switch ropeScaling {
        case nil:
            return base
        case let .linear(factor):
            return base.map { $0 / factor }
        case let .frequencyFactors(factors):
            return zip(base, factors).map { $0 / $1 }
        case let .llama3(factor, low, high, original):
            let lowWavelength = Float(original) / low
            let highWavelength = Float(original) / high
            return base.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let smooth = (Float(original) / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
    }

    /// Parameter count (weights of every tensor the model holds).
    public var parameterCount: Int {
        let d = hiddenSize, q = attentionHeads * headDim, kv = kvHeads * headDim, f = intermediateSize
        var perLayer = d * q + 2 * d * kv + q * d + 3 * d * f + 2 * d
        if attentionBias { perLayer += q + 2 * kv }
        if outputBias { perLayer += d }
        if mlpBias { perLayer += 2 * f + d }
        if queryKeyNorm { perLayer += 2 * headDim }
        if gemma != nil { perLayer += 2 * d }  // pre/post-feedforward norms
        return vocabularySize * d * (tieWordEmbeddings ? 1 : 2) + layerCount * perLayer + d
    }
}

extension LinearModule {
    /// The weight's shape [out, in] in a model of shape `c`.
    public func shape(in c: LlamaConfiguration) -> (outFeatures: Int, inFeatures: Int) {
        let d = c.hiddenSize, q = c.attentionHeads * c.headDim, kv = c.kvHeads * c.headDim, f = c.intermediateSize
        return switch self {
        case .queryProjection: (q, d)
        case .keyProjection, .valueProjection: (kv, d)
        case .outputProjection: (d, q)
        case .gateProjection, .upProjection: (f, d)
        case .downProjection: (d, f)
        }
    }

    /// Whether this module carries a bias in a model of shape `c`.
    public func hasBias(in c: LlamaConfiguration) -> Bool {
        switch self {
        case .queryProjection, .keyProjection, .valueProjection: c.attentionBias
        case .outputProjection: c.outputBias
        case .gateProjection, .upProjection, .downProjection: c.mlpBias
        }
    }
}
