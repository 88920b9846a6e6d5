// Writing a config.json that transformers and Lorikeet both read back (rope_theta +
// rope_scaling spelling, float32 weights).
import Foundation
import TensorCore
import ModelFormats

extension LlamaConfiguration {
    /// The Hugging Face config.json for this configuration (weights stored as `dtype`), with
    /// `quantizationConfig` as its `quantization_config` when given.
    public func huggingFaceJSON(dtype: DType = .f32, quantizationConfig: [String: Any]? = nil) throws -> Data {
        var d: [String: Any] = [
            "model_type": modelType,
            "architectures": [huggingFaceClass],
            "vocab_size": vocabularySize, "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_hidden_layers": layerCount, "num_attention_heads": attentionHeads, "num_key_value_heads": kvHeads,
            "head_dim": headDim, "rms_norm_eps": Double(rmsNormEps), "rope_theta": Double(ropeTheta),
            "max_position_embeddings": maxPositions, "tie_word_embeddings": tieWordEmbeddings,
            "hidden_act": "silu", "mlp_bias": mlpBias,
            "torch_dtype": dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32",
        ]
        if modelType != "qwen2" { d["attention_bias"] = attentionBias }
        if modelType == "smollm3" { d["no_rope_layers"] = (0..<layerCount).map { noRopeLayers.contains($0) ? 0 : 1 } }
        if let bosTokenID { d["bos_token_id"] = bosTokenID }
        if let paddingTokenID { d["pad_token_id"] = paddingTokenID }
        if eosTokenIDs.count == 1 { d["eos_token_id"] = eosTokenIDs[0] } else if !eosTokenIDs.isEmpty { d["eos_token_id"] = eosTokenIDs }
        switch ropeScaling {
        case nil: d["rope_scaling"] = NSNull()
        case let .linear(factor): d["rope_scaling"] = ["rope_type": "linear", "factor": Double(factor)]
        case let .llama3(factor, low, high, original):
            d["rope_scaling"] = ["rope_type": "llama3", "factor": Double(factor), "low_freq_factor": Double(low),
                                 "high_freq_factor": Double(high), "original_max_position_embeddings": original]
        case let .longrope(short, long, original, factor):
            var rope: [String: Any] = ["type": "longrope", "short_factor": short.map(Double.init), "long_factor": long.map(Double.init)]
            if factor != Self.longropeAttentionFactor(maxPositions: maxPositions, originalMaxPositions: original) {
                rope["attention_factor"] = Double(factor)
            }
            d["rope_scaling"] = rope
            d["original_max_position_embeddings"] = original
        case .frequencyFactors:
            throw ConfigurationError.invalid(field: "rope_scaling", reason: "per-frequency factors from GGUF have no config.json form",
                                             source: "config.json")
        }
        if rotaryDimensions != headDim { d["partial_rotary_factor"] = Double(rotaryDimensions) / Double(headDim) }
        if let slidingWindow { d["sliding_window"] = slidingWindow } else if modelType == "phi3" { d["sliding_window"] = NSNull() }
        if fusedProjections { d["mlp_bias"] = nil; d["attention_bias"] = nil }
        if let gemma {
            d["model_type"] = modelType == "gemma2" ? "gemma2" : "gemma3_text"
            d["hidden_act"] = nil
            d["mlp_bias"] = nil
            d["hidden_activation"] = "gelu_pytorch_tanh"
            d["query_pre_attn_scalar"] = Double(gemma.queryPreAttnScalar)
            d["sliding_window"] = gemma.slidingWindow
            d["layer_types"] = gemma.slidingLayers.map { $0 ? "sliding_attention" : "full_attention" }
            if modelType != "gemma2" { d["rope_local_base_freq"] = Double(gemma.localRopeTheta) }
            d["final_logit_softcapping"] = gemma.finalLogitSoftcap.map { Double($0) as Any } ?? NSNull()
            d["attn_logit_softcapping"] = gemma.attentionSoftcap.map { Double($0) as Any } ?? NSNull()
        }
        if let quantizationConfig { d["quantization_config"] = quantizationConfig }
        return try Self.jsonKeepingFloats(d)
    }

    /// JSON for `object` in which every Double keeps a decimal point: JSONSerialization writes
    /// 6.0 as `6`, and transformers rejects an integer where it checks for a float
    /// (`llm_int8_threshold`). Integral doubles travel as marked strings and are put back.
    static func jsonKeepingFloats(_ object: [String: Any]) throws -> Data {
        let marker = "@lorikeet-float@"
        func mark(_ v: Any) -> Any {
            if let dict = v as? [String: Any] { return dict.mapValues(mark) }
            if let list = v as? [Any] { return list.map(mark) }
            if type(of: v) == Double.self, let x = v as? Double, x.isFinite, x == x.rounded(), abs(x) < 1e15 {
                return marker + String(format: "%.1f", x)
            }
            return v
        }
        let data = try JSONSerialization.data(withJSONObject: mark(object), options: [.prettyPrinted, .sortedKeys])
        var text = String(decoding: data, as: UTF8.self)
        while let r = text.range(of: "\"" + marker) {
            let end = text[r.upperBound...].firstIndex(of: "\"")!
            text.replaceSubrange(r.lowerBound...end, with: text[r.upperBound..<end])
        }
        return Data(text.utf8)
    }
}

extension LlamaConfiguration {
    /// The transformers class config.json names (`architectures`).
    var huggingFaceClass: String {
        switch modelType {
        case "qwen2": "Qwen2ForCausalLM"
        case "qwen3": "Qwen3ForCausalLM"
        case "smollm3": "SmolLM3ForCausalLM"
        case "mistral": "MistralForCausalLM"
        case "gemma3": "Gemma3ForCausalLM"
        case "gemma2": "Gemma2ForCausalLM"
        case "phi3": "Phi3ForCausalLM"
        default: "LlamaForCausalLM"
        }
    }

    /// llama.cpp's `general.architecture` for this model: qwen2, qwen3, smollm3, gemma3, gemma2 and
    /// phi3 by name, "llama" for Llama and Mistral (llama.cpp runs Mistral as `llama`).
    public var ggufArchitecture: String {
        ["qwen2", "qwen3", "smollm3", "gemma3", "gemma2", "phi3"].contains(modelType) ? modelType : "llama"
    }

    /// Whether llama.cpp's converter permutes the q/k rows of this architecture (the Llama
    /// converter and its subclasses, SmolLM3 among them; not the Qwen ones).
    public var ggufPermutesQueryKey: Bool { Self.ggufPermutesQueryKey(architecture: ggufArchitecture) }

    /// Whether GGUF files of `architecture` hold permuted q/k rows.
    public static func ggufPermutesQueryKey(architecture: String) -> Bool { ["llama", "mistral", "smollm3"].contains(architecture) }

    /// The head count the q/k row permutation uses for `projection`.
    public func permutationHeads(_ projection: LlamaPermutation.Projection) -> Int {
        projection == .query ? attentionHeads : kvHeads
    }
}
