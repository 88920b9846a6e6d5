// Decoding config.json. Hugging Face key names live only in the CodingKeys below.
// Accepts both spellings of rotary settings: `rope_theta` + `rope_scaling` (most published
// checkpoints) and `rope_parameters` (transformers 5). Phi-3 keeps partial_rotary_factor and
// original_max_position_embeddings at the top level (4.x) or inside rope_parameters (5.x), and
// spells LongRoPE "longrope" or, in early checkpoints, "su".
import Foundation

extension LlamaConfiguration {
    /// Reads `config.json` at `url`; errors name the file and the field.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError.invalid(field: "config.json", reason: "cannot be read (\(error.localizedDescription))", source: url.path)
        }
        try self.init(json: data, source: url.path)
    }

    /// Decodes config.json bytes; `source` names the file in errors.
    public init(json data: Data, source: String) throws {
        let raw: HFConfig
        do { raw = try JSONDecoder().decode(HFConfig.self, from: data) } catch let error as DecodingError {
            throw ConfigurationError.invalid(field: "config.json", reason: "is not a valid model config: \(Self.describe(error))", source: source)
        }
        let type = raw.modelType ?? raw.architectures?.first ?? "unknown"
        if ["gemma3", "gemma3forconditionalgeneration"].contains(type.lowercased()) {
            self = try Self.gemma3Multimodal(json: data, source: source)
            return
        }
        if ["gemma3_text", "gemma3forcausallm"].contains(type.lowercased()) {
            self = try Self.gemma3(json: data, source: source)
            return
        }
        if ["gemma2", "gemma2forcausallm"].contains(type.lowercased()) {
            self = try Self.gemma3(json: data, source: source, gemma2: true)
            return
        }
        let family: String
        switch type.lowercased() {
        case "llama", "llamaforcausallm": family = "llama"
        case "mistral", "mistralforcausallm": family = "mistral"
        case "qwen2", "qwen2forcausallm": family = "qwen2"
        case "qwen3", "qwen3forcausallm": family = "qwen3"
        case "smollm3", "smollm3forcausallm": family = "smollm3"
        case "phi3", "phi3forcausallm": family = "phi3"
        default: throw ConfigurationError.unsupportedArchitecture(type, source: source)
        }
        func need<T>(_ v: T?, _ key: String) throws -> T {
            guard let v else { throw ConfigurationError.invalid(field: key, reason: "is missing", source: source) }
            return v
        }
        let hidden = try need(raw.hiddenSize, "hidden_size")
        let heads = try need(raw.numAttentionHeads, "num_attention_heads")
        let rope = raw.ropeScaling ?? raw.ropeParameters
        let theta = raw.ropeTheta ?? rope?.ropeTheta ?? 10_000
        var scaling: RopeScaling?
        switch rope?.ropeType ?? rope?.type {
        case nil, "default"?: scaling = nil
        case "llama3"?:
            scaling = .llama3(factor: try need(rope?.factor, "rope_scaling.factor"),
                              lowFrequencyFactor: rope?.lowFreqFactor ?? 1, highFrequencyFactor: rope?.highFreqFactor ?? 4,
                              originalMaxPositions: try need(rope?.originalMaxPositionEmbeddings, "rope_scaling.original_max_position_embeddings"))
        case "linear"?: scaling = .linear(factor: try need(rope?.factor, "rope_scaling.factor"))
        case let kind? where family == "phi3" && (kind == "longrope" || kind == "su"):
            let original = raw.originalMaxPositionEmbeddings ?? rope?.originalMaxPositionEmbeddings ?? 4096
            let maxPositions = raw.maxPositionEmbeddings ?? 4096
            // transformers: attention_factor if given, else from `factor` if given, else from max / original positions.
            let factor = rope?.attentionFactor ?? rope?.factor.map { f in
                f <= 1 ? 1 : Float((1 + log(Double(f)) / log(Double(original))).squareRoot())
            } ?? Self.longropeAttentionFactor(maxPositions: maxPositions, originalMaxPositions: original)
            scaling = .longrope(short: try need(rope?.shortFactor, "rope_scaling.short_factor"),
                                long: try need(rope?.longFactor, "rope_scaling.long_factor"),
                                originalMaxPositions: original, attentionFactor: factor)
        case let other?:
            let supported = family == "phi3" ? "default, longrope" : "default, linear, llama3"
            throw ConfigurationError.invalid(field: "rope_scaling.rope_type", reason: "'\(other)' is not supported (\(supported))", source: source)
        }
        if family == "phi3", let act = raw.hiddenAct, act != "silu" {
            throw ConfigurationError.invalid(field: "hidden_act", reason: "'\(act)' is not supported (silu)", source: source)
        }
        let headDim = raw.headDim ?? hidden / max(heads, 1)
        // Phi-4-mini: int(head_dim · partial_rotary_factor) leading values of each head rotate.
        let partial = raw.partialRotaryFactor ?? rope?.partialRotaryFactor ?? 1
        guard partial > 0, partial <= 1 else {
            throw ConfigurationError.invalid(field: "partial_rotary_factor", reason: "is \(partial), expected a value in (0, 1]", source: source)
        }
        self.init(modelType: family,
                  vocabularySize: try need(raw.vocabSize, "vocab_size"),
                  hiddenSize: hidden,
                  intermediateSize: try need(raw.intermediateSize, "intermediate_size"),
                  layerCount: try need(raw.numHiddenLayers, "num_hidden_layers"),
                  attentionHeads: heads,
                  kvHeads: raw.numKeyValueHeads ?? heads,
                  headDim: headDim,
                  rmsNormEps: raw.rmsNormEps ?? 1e-6,
                  ropeTheta: theta,
                  ropeScaling: scaling,
                  maxPositions: raw.maxPositionEmbeddings ?? 2048,
                  tieWordEmbeddings: raw.tieWordEmbeddings ?? false,
                  attentionBias: family == "qwen2" ? true : (raw.attentionBias ?? false),
                  outputBias: family == "qwen2" ? false : (raw.attentionBias ?? false),
                  mlpBias: raw.mlpBias ?? false,
                  bosTokenID: raw.bosTokenID,
                  eosTokenIDs: raw.eosTokenID?.values ?? [],
                  queryKeyNorm: family == "qwen3",
                  noRopeLayers: family == "smollm3" ? try Self.noRopeLayers(raw, source: source) : [],
                  fusedProjections: family == "phi3",
                  rotaryDimensions: Int(Double(headDim) * Double(partial)),
                  // Mistral and Phi-3 apply sliding_window to every layer (Qwen2 only with use_sliding_window).
                  slidingWindow: ["mistral", "phi3"].contains(family) ? raw.slidingWindow : nil,
                  paddingTokenID: Self.paddingTokenID(raw.padTokenID, family: family, vocabularySize: raw.vocabSize ?? 0))
        try validate(source: source)
    }

    /// SmolLM3's layers without RoPE: the zeros of `no_rope_layers`, else every
    /// `no_rope_layer_interval`-th layer (default 4), as transformers fills them in.
    static func noRopeLayers(_ raw: HFConfig, source: String) throws -> Set<Int> {
        let layers = try checkedSize(raw.numHiddenLayers ?? 0, field: "num_hidden_layers", source: source)
        if let flags = raw.noRopeLayers {
            guard flags.count == layers else {
                throw ConfigurationError.invalid(field: "no_rope_layers", reason: "has \(flags.count) entries for \(layers) layers", source: source)
            }
            return Set(flags.indices.filter { flags[$0] == 0 })
        }
        let interval = raw.noRopeLayerInterval ?? 4
        guard interval > 0 else { throw ConfigurationError.invalid(field: "no_rope_layer_interval", reason: "must be positive", source: source) }
        return Set((0..<layers).filter { ($0 + 1) % interval == 0 })
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .keyNotFound(_, c), let .dataCorrupted(c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// eos_token_id may be one id or a list (Llama 3.1).
struct OneOrMany: Decodable {
    let values: [Int]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(Int.self) { values = [one] } else { values = try c.decode([Int].self) }
    }
}

struct HFRope: Decodable {
    var ropeType: String?, type: String?, factor: Float?, lowFreqFactor: Float?, highFreqFactor: Float?
    var originalMaxPositionEmbeddings: Int?, ropeTheta: Float?
    var shortFactor: [Float]?, longFactor: [Float]?, attentionFactor: Float?, partialRotaryFactor: Float?
    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings", ropeTheta = "rope_theta"
        case shortFactor = "short_factor", longFactor = "long_factor", attentionFactor = "attention_factor"
        case partialRotaryFactor = "partial_rotary_factor"
    }
}

struct HFConfig: Decodable {
    var modelType: String?, architectures: [String]?
    var vocabSize: Int?, hiddenSize: Int?, intermediateSize: Int?, numHiddenLayers: Int?
    var numAttentionHeads: Int?, numKeyValueHeads: Int?, headDim: Int?
    var rmsNormEps: Float?, ropeTheta: Float?, ropeScaling: HFRope?, ropeParameters: HFRope?
    var maxPositionEmbeddings: Int?, tieWordEmbeddings: Bool?, attentionBias: Bool?, mlpBias: Bool?
    var bosTokenID: Int?, eosTokenID: OneOrMany?, padTokenID: Int?
    var noRopeLayers: [Int]?, noRopeLayerInterval: Int?
    var originalMaxPositionEmbeddings: Int?, partialRotaryFactor: Float?, slidingWindow: Int?, hiddenAct: String?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", architectures, vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", bosTokenID = "bos_token_id", eosTokenID = "eos_token_id"
        case padTokenID = "pad_token_id"
        case noRopeLayers = "no_rope_layers", noRopeLayerInterval = "no_rope_layer_interval"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings", partialRotaryFactor = "partial_rotary_factor"
        case slidingWindow = "sliding_window", hiddenAct = "hidden_act"
    }
}
