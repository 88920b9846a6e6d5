// What each recorded operation keeps for its backward rule. Inputs are tape handles;
// saved tensors are only what the rule needs (e.g. RMSNorm's per-row rstd, attention's
// logsumexp). Forward implementations are in Tape+Ops.swift, backward rules in Backward.swift.

enum Op {
    case linear(x: Var, weight: Var, bias: Var?)
    /// y = x·Wᵀ (+ b) + s·(drop(x)·Aᵀ)·Bᵀ; `down` = drop(x)·Aᵀ is kept, the mask is recomputed.
    case loraLinear(x: Var, weight: Var, bias: Var?, a: Var, b: Var, scale: Float, dropout: Float, seed: UInt64, down: Tensor)
    /// `ids` as scattered in backward: −1 for a padding id (no gradient).
    case embedding(table: Var, ids: [Int32])
    /// y = x · rstd · (weightOffset + w).
    case rmsnorm(x: Var, weight: Var?, rstd: Tensor, weightOffset: Float)
    case rope(x: Var, positions: [Int32], table: RopeTable, layout: RopeLayout, heads: Int, headDim: Int)
    case attention(q: Var, k: Var, v: Var, lse: Tensor, shape: AttentionShape, segments: [Int32]?)
    case swiglu(gate: Var, up: Var)
    /// gelu_tanh(gate) ⊙ up (Gemma's GeGLU).
    case geglu(gate: Var, up: Var)
    case silu(Var)
    /// y = c·tanh(x/c); backward reads y.
    case softcap(Var, cap: Float)
    case add(Var, Var)
    case mul(Var, Var)
    case scale(Var, Float)
    case dropout(Var, p: Float, seed: UInt64)
    /// The gradient w.r.t. the logits was computed in the forward pass (already divided by the normaliser).
    case crossEntropy(logits: Var, gradient: Tensor)
    /// Gradients were formed in the forward pass, chunk by chunk: dH for the counted rows and
    /// dW (when W trains), both already divided by the normaliser.
    case linearCrossEntropy(h: Var, weight: Var, rows: [Int32], dH: Tensor, dW: Tensor?)
    case sum(Var)
    case reshape(Var)
    /// y = x[..., start ..< start + width] (columns of the last axis).
    case columns(Var, start: Int, width: Int)
    case checkpoint(inputs: [Var], body: CheckpointBody)
}

/// A recomputable piece of the forward pass: builds its output on the given tape from the given inputs.
public typealias CheckpointBody = (Tape, [Var]) throws -> Var

extension Op {
    /// Inputs whose values the backward rule reads (others contribute only their shapes).
    var valuesReadByBackward: [Var] {
        switch self {
        case let .linear(x, w, _): return [x, w]
        case let .loraLinear(x, w, _, a, b, _, _, _, _): return [x, w, a, b]
        case let .rmsnorm(x, w, _, _): return [x] + (w.map { [$0] } ?? [])
        case let .attention(q, k, v, _, _, _): return [q, k, v]
        case let .swiglu(gate, up), let .geglu(gate, up): return [gate, up]
        case let .silu(x): return [x]
        case let .mul(a, b): return [a, b]
        case let .checkpoint(inputs, _): return inputs
        case .embedding, .rope, .add, .softcap, .scale, .dropout, .crossEntropy, .linearCrossEntropy, .sum, .reshape, .columns: return []
        }
    }
}
