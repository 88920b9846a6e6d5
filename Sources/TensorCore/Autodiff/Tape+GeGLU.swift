// Gemma's gated MLP activation on the tape: gelu_tanh(gate) ⊙ up. The backward rule is the
// `.geglu` case of Backward.swift; the kernels are in Kernels/GeGLU.swift.

extension Tape {
    /// gelu_tanh(gate) ⊙ up (GeGLU, PyTorch's tanh-approximated GELU). gate, up: same shape.
    public func geglu(gate: Var, up: Var) throws -> Var {
        let g = value(gate), u = value(up)
        try Tensor.checkSameShape("geglu", g, u)
        var y = Tensor(uninitialized: g.shape)
        y.withUnsafeMutableFloats { yp in g.withUnsafeFloats { gp in u.withUnsafeFloats { upp in
            Kernels.geglu(gate: gp.baseAddress!, up: upp.baseAddress!, out: yp.baseAddress!, g.count)
        } } }
        return record(y, inputs: [gate, up], op: .geglu(gate: gate, up: up))
    }
}
