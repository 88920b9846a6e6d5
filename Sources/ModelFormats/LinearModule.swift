// The linear modules of a Llama decoder block, in model order, with every name they go by:
// PEFT's target name (q_proj), the Hugging Face module path (model.layers.N.self_attn.q_proj)
// and llama.cpp's GGUF tensor name (blk.N.attn_q). The forward pass, LoRA targeting, PEFT and
// GGUF key mapping and the memory estimator all enumerate this one list.

/// One linear module of a decoder block.
public enum LinearModule: String, CaseIterable, Sendable, Hashable, Codable {
    case queryProjection = "q_proj"
    case keyProjection = "k_proj"
    case valueProjection = "v_proj"
    case outputProjection = "o_proj"
    case gateProjection = "gate_proj"
    case upProjection = "up_proj"
    case downProjection = "down_proj"

    /// The module's name as PEFT targets it: q_proj … down_proj.
    public var name: String { rawValue }

    /// The path inside a decoder layer: self_attn.q_proj, mlp.down_proj, …
    public var layerPath: String {
        switch self {
        case .queryProjection, .keyProjection, .valueProjection, .outputProjection: "self_attn." + rawValue
        case .gateProjection, .upProjection, .downProjection: "mlp." + rawValue
        }
    }

    /// llama.cpp's name inside a GGUF block: attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down.
    public var ggufName: String {
        switch self {
        case .queryProjection: "attn_q"
        case .keyProjection: "attn_k"
        case .valueProjection: "attn_v"
        case .outputProjection: "attn_output"
        case .gateProjection: "ffn_gate"
        case .upProjection: "ffn_up"
        case .downProjection: "ffn_down"
        }
    }

    /// The Hugging Face module path in decoder layer `layer`, e.g. model.layers.3.self_attn.q_proj.
    public func path(layer: Int) -> String { "model.layers.\(layer).\(layerPath)" }

    /// The GGUF weight tensor's name in block `layer`, e.g. blk.3.attn_q.weight.
    public func ggufWeightName(layer: Int) -> String { "blk.\(layer).\(ggufName).weight" }

    /// The module whose PEFT name is `name` (q_proj …), if any.
    public init?(name: String) { self.init(rawValue: name) }
}
