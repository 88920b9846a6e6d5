// The shape of a Llama-family model, decoded from a Hugging Face config.json (keys mapped
// in CodingKeys) or filled from GGUF metadata. Families: Llama 2/3/3.1/3.2, Mistral,
// Qwen2/2.5 (q/k/v bias), Qwen3 (per-head q/k RMSNorm, no bias), SmolLM/SmolLM2, SmolLM3
// (no RoPE on every 4th layer), TinyLlama, Gemma 3 text and Gemma 2 (`gemma` settings),
// Phi-3 / Phi-3.5 / Phi-4-mini (fused qkv_proj and gate_up_proj, partial rotary, LongRoPE,
// sliding window). Anything else is refused by name.
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
    /// Phi-3's LongRoPE: inverse frequency i divided by `short[i]` while a forward pass stays within
    /// `originalMaxPositions` positions, by `long[i]` beyond; cos and sin are multiplied by
    /// `attentionFactor` either way.
    case longrope(short: [Float], long: [Float], originalMaxPositions: Int, attentionFactor: Float)
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
    /// "llama", "mistral", "qwen2", "qwen3", "smollm3", "gemma3", "gemma2" or "phi3".
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
    /// pad_token_id: the embedding row that never gets a gradient (transformers builds the
    /// embedding with padding_idx = pad_token_id).
    public var paddingTokenID: Int?
    /// RMSNorm over each head of q and of k (weights `self_attn.q_norm` / `k_norm`, [head_dim])
    /// right before RoPE (Qwen3, Gemma 3).
    public var queryKeyNorm: Bool
    /// Decoder layers that skip RoPE (NoPE; SmolLM3's `no_rope_layers` zeros).
    public var noRopeLayers: Set<Int>
    /// Gemma 3's architecture choices (nil for the Llama family proper); see LlamaConfiguration+Gemma.swift.
    public var gemma: GemmaSettings?
    /// q/k/v and gate/up each stored as one fused matrix (Phi-3's qkv_proj and gate_up_proj).
    public var fusedProjections: Bool
    /// How many leading dimensions of each head RoPE rotates (Phi-4-mini's partial_rotary_factor
    /// 0.75 rotates 96 of 128); the rest pass through. Equal to headDim for full rotary.
    public var rotaryDimensions: Int
    /// Every layer's query sees only the last `slidingWindow` positions, itself included
    /// (Phi-3's and Mistral's sliding_window; Gemma keeps its own per-layer window).
    public var slidingWindow: Int?

    /// The architectures (config.json model_type) Lorikeet runs.
    public static let supportedArchitectures = ["llama", "mistral", "qwen2", "qwen3", "smollm3", "gemma3_text", "gemma2", "phi3"]

    /// Creates a configuration from explicit values (tests, `--init random`, GGUF).
    public init(modelType: String = "llama", vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, attentionHeads: Int, kvHeads: Int, headDim: Int? = nil, rmsNormEps: Float = 1e-5,
                ropeTheta: Float = 10_000, ropeScaling: RopeScaling? = nil, maxPositions: Int = 2048,
                tieWordEmbeddings: Bool = false, attentionBias: Bool = false, outputBias: Bool = false, mlpBias: Bool = false,
                bosTokenID: Int? = 1, eosTokenIDs: [Int] = [2], queryKeyNorm: Bool = false, noRopeLayers: Set<Int> = [],
                gemma: GemmaSettings? = nil, fusedProjections: Bool = false, rotaryDimensions: Int? = nil, slidingWindow: Int? = nil,
                paddingTokenID: Int? = nil) {
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
        self.fusedProjections = fusedProjections
        self.rotaryDimensions = rotaryDimensions ?? self.headDim
        self.slidingWindow = slidingWindow
        self.paddingTokenID = paddingTokenID
    }

    /// The linear modules of each decoder block, in model order.
    public var linearModules: [LinearModule] { fusedProjections ? LinearModule.fused : LinearModule.separate }

    /// A count read from a file that is used before `validate` runs (to size a per-layer list,
    /// or as a divisor): positive and within validate()'s bound, else the error validate()
    /// would give. Hostile counts otherwise trapped (a negative range) or hung (a list of billions).
    static func checkedSize(_ value: Int, field: String, source: String) throws -> Int {
        guard value > 0, value < 1 << 24 else {
            throw ConfigurationError.invalid(field: field, reason: "is \(value), expected a positive size", source: source)
        }
        return value
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
        guard rotaryDimensions > 0, rotaryDimensions <= headDim, rotaryDimensions % 2 == 0 else {
            throw bad("partial_rotary_factor", "gives \(rotaryDimensions) rotary dimensions, expected an even number in 2...\(headDim)")
        }
        if let slidingWindow, slidingWindow <= 0 { throw bad("sliding_window", "is \(slidingWindow), expected a positive size") }
        if case let .longrope(short, long, original, factor) = ropeScaling {
            for (key, list) in [("short_factor", short), ("long_factor", long)] where list.count != rotaryDimensions / 2 {
                throw bad("rope_scaling.\(key)", "has \(list.count) values, expected \(rotaryDimensions / 2) (rotary dimensions / 2)")
            }
            guard original > 0 else { throw bad("original_max_position_embeddings", "must be positive") }
            guard factor > 0, factor.isFinite else { throw bad("rope_scaling.attention_factor", "must be positive") }
        }
        guard ropeTheta > 0 else { throw bad("rope_theta", "must be positive") }
        if let gemma { try gemma.validate(layerCount: layerCount, source: source) }
        if let l = noRopeLayers.first(where: { $0 < 0 || $0 >= layerCount }) { throw bad("no_rope_layers", "names layer \(l) of \(layerCount)") }
    }

    /// Rotary inverse frequencies (one per rotated pair), with scaling applied, in float32 as
    /// transformers computes them. For LongRoPE, the short factors' set.
    public var ropeInverseFrequencies: [Float] {
        let dim = rotaryDimensions
        let base: [Float] = (0..<(dim / 2)).map { i in
            1 / powf(ropeTheta, Float(2 * i) / Float(dim))
        }
        switch ropeScaling {
        case nil:
            return base
        case let .linear(factor):
            return base.map { $0 / factor }
        case let .frequencyFactors(factors):
            return zip(base, factors).map { $0 / $1 }
        case let .longrope(short, _, _, _):
            return Self.longropeFrequencies(theta: ropeTheta, dim: dim, factors: short)
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

    /// LongRoPE's long-context inverse frequencies (nil for other scalings).
    public var longRopeInverseFrequencies: [Float]? {
        guard case let .longrope(_, long, _, _) = ropeScaling else { return nil }
        return Self.longropeFrequencies(theta: ropeTheta, dim: rotaryDimensions, factors: long)
    }

    /// The factor cos and sin are multiplied by (LongRoPE's attention factor; 1 otherwise).
    public var ropeAttentionFactor: Float {
        guard case let .longrope(_, _, _, factor) = ropeScaling else { return 1 }
        return factor
    }

    /// 1 / (factor[i] · θ^(2i/dim)), in float32 as transformers' _compute_longrope_parameters.
    static func longropeFrequencies(theta: Float, dim: Int, factors: [Float]) -> [Float] {
        (0..<(dim / 2)).map { i in 1 / (factors[i] * powf(theta, Float(2 * i) / Float(dim))) }
    }

    /// LongRoPE's default attention factor √(1 + ln(s) / ln(original)), s = max / original positions (1 when s ≤ 1).
    public static func longropeAttentionFactor(maxPositions: Int, originalMaxPositions: Int) -> Float {
        let s = Double(maxPositions) / Double(originalMaxPositions)
        return s <= 1 ? 1 : Float((1 + log(s) / log(Double(originalMaxPositions))).squareRoot())
    }

    /// transformers' pad_token_id when config.json has none: its config classes' defaults
    /// (Gemma 0, Phi-3 32000, SmolLM3 128004; none for Llama, Mistral and Qwen). An id outside the
    /// vocabulary pads nothing.
    static func paddingTokenID(_ id: Int?, family: String, vocabularySize: Int) -> Int? {
        let defaults = ["gemma3": 0, "gemma2": 0, "phi3": 32000, "smollm3": 128_004]
        guard let p = id ?? defaults[family], p >= 0, p < vocabularySize else { return nil }
        return p
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
        case .qkvProjection: (q + 2 * kv, d)
        case .gateUpProjection: (2 * f, d)
        }
    }

    /// Whether this module carries a bias in a model of shape `c`.
    public func hasBias(in c: LlamaConfiguration) -> Bool {
        switch self {
        case .queryProjection, .keyProjection, .valueProjection, .qkvProjection: c.attentionBias
        case .outputProjection: c.outputBias
        case .gateProjection, .upProjection, .downProjection, .gateUpProjection: c.mlpBias
        }
    }
}
