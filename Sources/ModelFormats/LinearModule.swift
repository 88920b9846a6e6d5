// The linear modules of a Llama decoder block, in model order, with every name they go by:
// PEFT's target name (q_proj), the Hugging Face module path (model.layers.N.self_attn.q_proj)
// and llama.cpp's GGUF tensor name (blk.N.attn_q). A block has either the seven separate
// modules (`separate`) or Phi-3's four, with q/k/v and gate/up each fused into one matrix
// (`fused`). The forward pass, LoRA targeting, PEFT and GGUF key mapping and the memory
// estimator all enumerate these lists.

/// One linear module of a decoder block.
public enum LinearModule: String, CaseIterable, Sendable, Hashable, Codable {
    // Cases in block order (allCases orders files and listings).
    case queryProjection = "q_proj"
    case keyProjection = "k_proj"
    case valueProjection = "v_proj"
    /// Phi-3: q, k and v stacked in one [q + 2·kv, D] matrix (rows in that order).
    case qkvProjection = "qkv_proj"
    case outputProjection = "o_proj"
    case gateProjection = "gate_proj"
    case upProjection = "up_proj"
    /// Phi-3: gate and up stacked in one [2·F, D] matrix (gate rows first).
    case gateUpProjection = "gate_up_proj"
    case downProjection = "down_proj"

    /// The seven modules of a Llama block, in model order.
    public static let separate: [LinearModule] = [
        .queryProjection, .keyProjection, .valueProjection, .outputProjection, .gateProjection, .upProjection, .downProjection,
    ]
    /// The four modules of a Phi-3 block, in model order.
    public static let fused: [LinearModule] = [.qkvProjection, .outputProjection, .gateUpProjection, .downProjection]

    /// The module's name as PEFT targets it: q_proj … down_proj.
    public var name: String { rawValue }

    /// The path inside a decoder layer: self_attn.q_proj, mlp.down_proj, …
    public var layerPath: String {
        switch self {
        case .queryProjection, .keyProjection, .valueProjection, .outputProjection, .qkvProjection: "self_attn." + rawValue
        case .gateProjection, .upProjection, .downProjection, .gateUpProjection: "mlp." + rawValue
        }
    }

    /// llama.cpp's name inside a GGUF block: attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,
    /// ffn_down; Phi-3's attn_qkv, and ffn_up for the fused gate_up (llama.cpp's `phi3` keeps both halves there).
    public var ggufName: String {
        switch self {
        case .queryProjection: "attn_q"
        case .keyProjection: "attn_k"
        case .valueProjection: "attn_v"
        case .outputProjection: "attn_output"
        case .gateProjection: "ffn_gate"
        case .upProjection: "ffn_up"
        case .downProjection: "ffn_down"
        case .qkvProjection: "attn_qkv"
        case .gateUpProjection: "ffn_up"
        }
    }

    /// The Hugging Face module path in decoder layer `layer`, e.g. model.layers.3.self_attn.q_proj.
    public func path(layer: Int) -> String { "model.layers.\(layer).\(layerPath)" }

    /// The GGUF weight tensor's name in block `layer`, e.g. blk.3.attn_q.weight.
    public func ggufWeightName(layer: Int) -> String { "blk.\(layer).\(ggufName).weight" }

    /// The module whose PEFT name is `name` (q_proj …), if any.
    public init?(name: String) { self.init(rawValue: name) }
}
