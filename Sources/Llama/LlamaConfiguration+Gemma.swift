// Gemma 3 text (transformers' Gemma3ForCausalLM, model_type "gemma3_text"): what differs from
// Llama, and decoding its config.json. Fixed by the family (not settings): norms scale by
// (1 + w) in f32, embeddings are multiplied by √D, the MLP is GeGLU with tanh GELU, four
// norms per layer (post-attention and post-feedforward norms act on the sublayer output before
// the residual add), per-head q/k norms before RoPE. Logit soft-capping (Gemma 2) is refused.
// Gemma 3 4B and larger are Gemma3ForConditionalGeneration (model_type "gemma3"): their
// text_config is read as a gemma3_text config, and the vision tower is left out (text only).
// Keys a config leaves out take transformers' Gemma3TextConfig / Gemma2Config defaults.
import Foundation

/// Gemma 3's per-model settings.
public struct GemmaSettings: Sendable, Equatable {
    /// Attention scores are scaled by queryPreAttnScalar^−½ (not head_dim^−½).
    public var queryPreAttnScalar: Float
    /// A sliding layer's query sees only the last `slidingWindow` positions (itself included).
    public var slidingWindow: Int
    /// Per layer: true for sliding-window attention, false for full (global) attention.
    public var slidingLayers: [Bool]
    /// RoPE base of the sliding layers (`rope_local_base_freq`); global layers use rope_theta
    /// and rope_scaling.
    public var localRopeTheta: Float
    /// Gemma 2: attention scores become c·tanh(s/c) (`attn_logit_softcapping`).
    public var attentionSoftcap: Float?
    /// Gemma 2: logits become c·tanh(z/c) (`final_logit_softcapping`).
    public var finalLogitSoftcap: Float?

    /// Creates the settings.
    public init(queryPreAttnScalar: Float, slidingWindow: Int, slidingLayers: [Bool], localRopeTheta: Float,
                attentionSoftcap: Float? = nil, finalLogitSoftcap: Float? = nil) {
        self.queryPreAttnScalar = queryPreAttnScalar
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers
        self.localRopeTheta = localRopeTheta
        self.attentionSoftcap = attentionSoftcap
        self.finalLogitSoftcap = finalLogitSoftcap
    }

    /// transformers' default layer pattern: every `pattern`-th layer is global (5 sliding : 1 full).
    public static func defaultSlidingLayers(count: Int, pattern: Int = 6) -> [Bool] {
        (0..<count).map { ($0 + 1) % pattern != 0 }
    }

    func validate(layerCount: Int, source: String) throws {
        func bad(_ f: String, _ r: String) -> ConfigurationError { .invalid(field: f, reason: r, source: source) }
        guard slidingLayers.count == layerCount else {
            throw bad("layer_types", "has \(slidingLayers.count) entries, expected num_hidden_layers (\(layerCount))")
        }
        guard slidingWindow > 0 else { throw bad("sliding_window", "is \(slidingWindow), expected a positive size") }
        guard queryPreAttnScalar > 0 else { throw bad("query_pre_attn_scalar", "must be positive") }
        guard localRopeTheta > 0 else { throw bad("rope_local_base_freq", "must be positive") }
        for (key, cap) in [("attn_logit_softcapping", attentionSoftcap), ("final_logit_softcapping", finalLogitSoftcap)] {
            if let cap, !(cap > 0 && cap.isFinite) { throw bad(key, "is \(cap), expected a positive number") }
        }
    }
}

extension LlamaConfiguration {
    /// Rotary inverse frequencies of the sliding (local) layers of a Gemma model: base
    /// `rope_local_base_freq`, no scaling.
    var localRopeInverseFrequencies: [Float]? {
        guard let gemma else { return nil }
        var local = self
        local.ropeTheta = gemma.localRopeTheta
        local.ropeScaling = nil
        return local.ropeInverseFrequencies
    }

    /// Decodes a `gemma3_text` config.json. Accepts transformers 4.x keys (rope_theta,
    /// rope_local_base_freq, rope_scaling, sliding_window_pattern) and 5.x (rope_parameters per
    /// layer type).
    static func gemma3(json data: Data, source: String, gemma2: Bool = false) throws -> LlamaConfiguration {
        let raw: Gemma3Config
        do { raw = try JSONDecoder().decode(Gemma3Config.self, from: data) } catch let error as DecodingError {
            throw ConfigurationError.invalid(field: "config.json", reason: "is not a valid model config: \(describe(error))", source: source)
        }
        func need<T>(_ v: T?, _ key: String) throws -> T {
            guard let v else { throw ConfigurationError.invalid(field: key, reason: "is missing", source: source) }
            return v
        }
        func bad(_ f: String, _ r: String) -> ConfigurationError { .invalid(field: f, reason: r, source: source) }
        if !gemma2 && (raw.finalLogitSoftcapping != nil || raw.attnLogitSoftcapping != nil) {
            throw bad("final_logit_softcapping / attn_logit_softcapping", "must be null for Gemma 3")
        }
        if raw.useBidirectionalAttention == true { throw bad("use_bidirectional_attention", "is not supported") }
        let act = raw.hiddenActivation ?? raw.hiddenAct ?? "gelu_pytorch_tanh"
        guard act == "gelu_pytorch_tanh" else { throw bad("hidden_activation", "'\(act)' is not supported (gelu_pytorch_tanh)") }
        // transformers' class defaults (Gemma3TextConfig, Gemma2Config) for keys left out, as the
        // sparse text_config of a multimodal Gemma 3 relies on.
        let layers = try checkedSize(raw.numHiddenLayers ?? 26, field: "num_hidden_layers", source: source)
        let heads = raw.numAttentionHeads ?? 8
        // Gemma 2 alternates sliding and global layers; Gemma 3 has 5 sliding per global one.
        let pattern = gemma2 ? 2 : raw.slidingWindowPattern ?? 6
        guard pattern > 0 else { throw bad("sliding_window_pattern", "is \(pattern), expected a positive layer count") }
        var sliding = GemmaSettings.defaultSlidingLayers(count: layers, pattern: pattern)
        if let types = raw.layerTypes {
            sliding = try types.map {
                switch $0 {
                case "sliding_attention": return true
                case "full_attention": return false
                default: throw bad("layer_types", "has '\($0)' (expected sliding_attention or full_attention)")
                }
            }
        }
        let full = raw.ropeParameters?.perLayerType?["full_attention"] ?? raw.ropeParameters?.flat
        let local = raw.ropeParameters?.perLayerType?["sliding_attention"] ?? nil
        if let t = local?.ropeType ?? local?.type, t != "default" {
            throw bad("rope_parameters.sliding_attention.rope_type", "'\(t)' is not supported (default)")
        }
        let rope = raw.ropeScaling ?? full
        var scaling: RopeScaling?
        switch rope?.ropeType ?? rope?.type {
        case nil, "default"?: scaling = nil
        case "linear"?: scaling = .linear(factor: try need(rope?.factor, "rope_scaling.factor"))
        case let other?: throw bad("rope_scaling.rope_type", "'\(other)' is not supported for Gemma 3 (default, linear)")
        }
        let hidden = raw.hiddenSize ?? 2304
        // Gemma 2 (transformers 5) keeps one rope_parameters dict, not one per layer type.
        let theta = raw.ropeTheta ?? full?.ropeTheta ?? (gemma2 ? 10_000 : 1_000_000)
        let gemma = GemmaSettings(queryPreAttnScalar: raw.queryPreAttnScalar ?? 256, slidingWindow: raw.slidingWindow ?? 4096,
                                  slidingLayers: sliding,
                                  localRopeTheta: gemma2 ? theta : raw.ropeLocalBaseFreq ?? local?.ropeTheta ?? 10_000,
                                  attentionSoftcap: gemma2 ? raw.attnLogitSoftcapping : nil,
                                  finalLogitSoftcap: gemma2 ? raw.finalLogitSoftcapping : nil)
        let config = LlamaConfiguration(
            modelType: gemma2 ? "gemma2" : "gemma3", vocabularySize: raw.vocabSize ?? (gemma2 ? 256_000 : 262_208), hiddenSize: hidden,
            intermediateSize: raw.intermediateSize ?? 9216, layerCount: layers,
            attentionHeads: heads, kvHeads: raw.numKeyValueHeads ?? 4, headDim: raw.headDim ?? 256,
            rmsNormEps: raw.rmsNormEps ?? 1e-6, ropeTheta: theta,
            ropeScaling: scaling, maxPositions: raw.maxPositionEmbeddings ?? 131_072,
            tieWordEmbeddings: raw.tieWordEmbeddings ?? true, attentionBias: raw.attentionBias ?? false,
            outputBias: raw.attentionBias ?? false, mlpBias: false,
            bosTokenID: raw.bosTokenID ?? 2, eosTokenIDs: raw.eosTokenID?.values ?? [1], queryKeyNorm: !gemma2, gemma: gemma,
            paddingTokenID: paddingTokenID(raw.padTokenID, family: gemma2 ? "gemma2" : "gemma3", vocabularySize: raw.vocabSize ?? (gemma2 ? 256_000 : 262_208)))
        try config.validate(source: source)
        return config
    }
}

extension LlamaConfiguration {
    /// Decodes a multimodal Gemma 3 config.json (Gemma3ForConditionalGeneration): its text_config,
    /// with the top-level eos_token_id (the instruct models' [1, 106]) where it has one.
    static func gemma3Multimodal(json data: Data, source: String) throws -> LlamaConfiguration {
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let text = top["text_config"] as? [String: Any] else {
            throw ConfigurationError.invalid(field: "text_config", reason: "is missing: a gemma3 (multimodal) config.json needs one", source: source)
        }
        var config = try gemma3(json: try JSONSerialization.data(withJSONObject: text), source: source + " (text_config)")
        if let eos = top["eos_token_id"] {
            config.eosTokenIDs = (eos as? [Int]) ?? (eos as? Int).map { [$0] } ?? config.eosTokenIDs
        }
        return config
    }
}

struct Gemma3Config: Decodable {
    var vocabSize: Int?, hiddenSize: Int?, intermediateSize: Int?, numHiddenLayers: Int?
    var numAttentionHeads: Int?, numKeyValueHeads: Int?, headDim: Int?
    var rmsNormEps: Float?, ropeTheta: Float?, ropeLocalBaseFreq: Float?, ropeScaling: HFRope?
    var ropeParameters: GemmaRopeParameters?
    var maxPositionEmbeddings: Int?, tieWordEmbeddings: Bool?, attentionBias: Bool?
    var bosTokenID: Int?, eosTokenID: OneOrMany?, padTokenID: Int?
    var queryPreAttnScalar: Float?, slidingWindow: Int?, slidingWindowPattern: Int?, layerTypes: [String]?
    var finalLogitSoftcapping: Float?, attnLogitSoftcapping: Float?, useBidirectionalAttention: Bool?
    var hiddenActivation: String?, hiddenAct: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta", ropeLocalBaseFreq = "rope_local_base_freq", ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters", maxPositionEmbeddings = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings", attentionBias = "attention_bias"
        case bosTokenID = "bos_token_id", eosTokenID = "eos_token_id", padTokenID = "pad_token_id", queryPreAttnScalar = "query_pre_attn_scalar"
        case slidingWindow = "sliding_window", slidingWindowPattern = "sliding_window_pattern", layerTypes = "layer_types"
        case finalLogitSoftcapping = "final_logit_softcapping", attnLogitSoftcapping = "attn_logit_softcapping"
        case useBidirectionalAttention = "use_bidirectional_attention"
        case hiddenActivation = "hidden_activation", hiddenAct = "hidden_act"
    }
}

/// transformers 5's `rope_parameters`: one dict per layer type (Gemma 3) or a single one (Gemma 2).
struct GemmaRopeParameters: Decodable {
    var perLayerType: [String: HFRope?]?
    var flat: HFRope?
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Per type first: a per-type dict would also decode as an (all-nil) HFRope.
        if let byType = try? c.decode([String: HFRope?].self) { perLayerType = byType } else { flat = try c.decode(HFRope.self) }
    }
}
