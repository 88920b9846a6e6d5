// The one place that maps tensor names of the `llama` architecture between GGUF
// (llama.cpp: token_embd, blk.N.attn_q, …) and Hugging Face transformers
// (model.embed_tokens, model.layers.N.self_attn.q_proj, …), for .weight and .bias.
// Names with no counterpart (e.g. GGUF's rope_freqs) map to nil. Gemma 3 (`gemma3`) has four
// norms per block, so its ffn_norm is the pre-feedforward norm, not post_attention_layernorm.
// Phi-3 (`phi3`) keeps q/k/v in one attn_qkv and gate/up in one ffn_up.

/// GGUF <-> Hugging Face tensor names for Llama-architecture models.
public enum LlamaTensorNames {
    /// Per-layer parts: GGUF name (after "blk.N.") and HF name (after "model.layers.N.").
    static let layerParts: [(gguf: String, hf: String)] = LinearModule.separate.map { ($0.ggufName, $0.layerPath) } + [
        ("attn_norm", "input_layernorm"),
        ("ffn_norm", "post_attention_layernorm"),
        ("attn_q_norm", "self_attn.q_norm"),
        ("attn_k_norm", "self_attn.k_norm"),
    ]

    /// Per-layer parts of llama.cpp's `gemma3` and `gemma2` architectures (gemma2 has no q/k norms).
    static let gemma3LayerParts: [(gguf: String, hf: String)] = LinearModule.separate.map { ($0.ggufName, $0.layerPath) } + [
        ("attn_norm", "input_layernorm"),
        ("post_attention_norm", "post_attention_layernorm"),
        ("ffn_norm", "pre_feedforward_layernorm"),
        ("post_ffw_norm", "post_feedforward_layernorm"),
        ("attn_q_norm", "self_attn.q_norm"),
        ("attn_k_norm", "self_attn.k_norm"),
    ]

    /// Per-layer parts of llama.cpp's `phi3` architecture.
    static let phi3LayerParts: [(gguf: String, hf: String)] = LinearModule.fused.map { ($0.ggufName, $0.layerPath) } + [
        ("attn_norm", "input_layernorm"),
        ("ffn_norm", "post_attention_layernorm"),
    ]

    static func layerParts(_ architecture: String) -> [(gguf: String, hf: String)] {
        switch architecture {
        case "gemma3", "gemma2": gemma3LayerParts
        case "phi3": phi3LayerParts
        default: layerParts
        }
    }

    /// Whole-model parts.
    static let globalParts: [(gguf: String, hf: String)] = [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ]

    static let suffixes = [".weight", ".bias"]

    /// The Hugging Face name for GGUF tensor `name`, e.g. "blk.3.attn_q.weight" ->
    /// "model.layers.3.self_attn.q_proj.weight"; nil when it has none.
    public static func huggingFaceName(forGGUF name: String, architecture: String = "llama") -> String? {
        guard let (stem, suffix) = split(name) else { return nil }
        if let g = globalParts.first(where: { $0.gguf == stem }) { return g.hf + suffix }
        let parts = stem.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blk", let layer = layerIndex(parts[1]),
              let p = layerParts(architecture).first(where: { $0.gguf == parts[2] }) else { return nil }
        return "model.layers.\(layer).\(p.hf)\(suffix)"
    }

    /// The GGUF name for Hugging Face tensor `name`, e.g.
    /// "model.layers.3.mlp.down_proj.weight" -> "blk.3.ffn_down.weight"; nil when it has none.
    public static func ggufName(forHuggingFace name: String, architecture: String = "llama") -> String? {
        guard let (stem, suffix) = split(name) else { return nil }
        if let g = globalParts.first(where: { $0.hf == stem }) { return g.gguf + suffix }
        let prefix = "model.layers."
        guard stem.hasPrefix(prefix) else { return nil }
        let rest = stem.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = layerIndex(rest[..<dot]) else { return nil }
        let part = rest[rest.index(after: dot)...]
        guard let p = layerParts(architecture).first(where: { $0.hf == part }) else { return nil }
        return "blk.\(layer).\(p.gguf)\(suffix)"
    }

    /// Which q/k row permutation llama.cpp applied to GGUF tensor `name`: `.query` for
    /// attn_q (permuted with n_head), `.key` for attn_k (with n_head_kv), nil otherwise.
    public static func permutation(forGGUF name: String) -> LlamaPermutation.Projection? {
        guard let (stem, _) = split(name) else { return nil }
        if stem.hasPrefix("blk.") && stem.hasSuffix(".attn_q") { return .query }
        if stem.hasPrefix("blk.") && stem.hasSuffix(".attn_k") { return .key }
        return nil
    }

    /// (stem, ".weight" | ".bias") or nil.
    static func split(_ name: String) -> (String, String)? {
        for s in suffixes where name.hasSuffix(s) { return (String(name.dropLast(s.count)), s) }
        return nil
    }

    /// A decimal layer number without sign or leading zeros.
    static func layerIndex(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.allSatisfy(\.isASCII), s.allSatisfy(\.isNumber),
              s == "0" || !s.hasPrefix("0"), let n = Int(s) else { return nil }
        return n
    }
}
