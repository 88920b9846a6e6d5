// The hook through which fine-tuning methods (LoRA) add to a linear layer's output
// without the model knowing about them. Adapters are keyed by module path, so a set of
// adapters can be swapped without reloading the base weights.
import TensorCore

/// Something that changes a linear layer, such as a LoRA pair.
public protocol LinearAdapter: AnyObject {
    /// The adapted layer's output for input x: [N, in], given the frozen weight W: [out, in]
    /// and bias; i.e. x·Wᵀ (+ b) + Δ(x), computed as the adapter sees fit (fused for LoRA).
    func forward(_ tape: Tape, input x: Var, weight: Var, bias: Var?, context: AdapterContext) throws -> Var
}

/// What an adapter may need to know about the call.
public struct AdapterContext: Sendable {
    /// Module path, e.g. `model.layers.3.self_attn.q_proj`.
    public var path: String
    /// Seed for dropout masks; nil in evaluation and generation (no dropout).
    public var dropoutSeed: UInt64?

    /// Creates a context.
    public init(path: String, dropoutSeed: UInt64?) {
        self.path = path
        self.dropoutSeed = dropoutSeed
    }
}

extension String {
    /// A stable 64-bit FNV-1a hash (Swift's `hashValue` is randomised per process).
    public var stableHash: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
