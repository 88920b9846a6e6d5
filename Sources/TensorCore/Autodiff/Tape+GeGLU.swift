// Gemma's gated MLP activation on the tape: gelu_tanh(gate) ⊙ up. The backward rule is the
// `.geglu` case of Backward.swift; the kernels are in Kernels/GeGLU.swift.

extension Tape {
    /// gelu_tanh(gate) ⊙ up (GeGLU, PyTorch's tanh-approximated GELU). gate, up: same shape.
    public func geglu(gate: Var, up: Var) throws -> Var {
        try gated("geglu", gate, up, op: .geglu(gate: gate, up: up)) { Kernels.geglu(gate: $0, up: $1, out: $2, $3) }
    }
}
