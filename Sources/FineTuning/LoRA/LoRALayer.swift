// One LoRA pair on one linear layer: y = W x + s · B A dropout(x), A: [r, in], B: [out, r].
// The frozen W is untouched; only A and B are Parameters that train. The whole layer is one
// fused tape operation (Tape.loraLinear): no copy of the base output, no dropped copy of x.
import TensorCore
import Llama

/// A LoRA pair attached to one linear module.
public final class LoRALayer: LinearAdapter, @unchecked Sendable {
    /// Module path, e.g. `model.layers.0.self_attn.q_proj`.
    public let path: String
    /// Down-projection A: [r, in].
    public let a: Parameter
    /// Up-projection B: [out, r].
    public let b: Parameter
    /// Output scale s (alpha / r, or alpha / √r with rsLoRA).
    public let scale: Float
    /// Dropout on the input during training.
    public let dropout: Float

    /// A pair from existing tensors (loaded from a file).
    public init(path: String, a: Tensor, b: Tensor, scale: Float, dropout: Float, trainable: Bool = true) {
        self.path = path
        self.a = Parameter(name: LoRALayer.key(path, "A"), value: a, requiresGrad: trainable)
        self.b = Parameter(name: LoRALayer.key(path, "B"), value: b, requiresGrad: trainable)
        self.scale = scale
        self.dropout = dropout
    }

    /// The rank r.
    public var rank: Int { a.value.shape[0] }

    /// The PEFT file key of A or B, e.g. `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`.
    public static func key(_ path: String, _ which: String) -> String { "base_model.model.\(path).lora_\(which).weight" }

    public func forward(_ tape: Tape, input x: Var, weight: Var, bias: Var?, context: AdapterContext) throws -> Var {
        let p = context.dropoutSeed == nil ? 0 : dropout
        return try tape.loraLinear(x, weight: weight, bias: bias, a: tape.parameter(a), b: tape.parameter(b), scale: scale,
                                   dropout: p, seed: context.dropoutSeed ?? 0)
    }

    /// s · B · A: the change this pair makes to W ([out, in]).
    public func delta() throws -> Tensor {
        var d = try Tensor.matmul(b.value.widened(), a.value.widened())
        let s = scale
        d.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= s } }
        return d
    }
}
