// A tiny Llama-shaped network built directly on the tape (embedding, pre-norm blocks with
// GQA attention and SwiGLU, final norm, untied head), for engine tests. The real model
// lives in the Llama module; this one only exercises the ops together.
import TensorCore

public final class TinyLlama {
    public let vocab: Int, dim: Int, layers: Int, heads: Int, kvHeads: Int, hidden: Int
    public var headDim: Int { dim / heads }
    public let parameters: [Parameter]
    let table: RopeTable
    private var byName: [String: Parameter] = [:]

    public init(vocab: Int = 64, dim: Int = 64, layers: Int = 2, heads: Int = 4, kvHeads: Int = 2, hidden: Int = 128, seed: UInt64 = 1) {
        self.vocab = vocab; self.dim = dim; self.layers = layers; self.heads = heads; self.kvHeads = kvHeads; self.hidden = hidden
        var g = SeededGenerator(seed: seed)
        var ps: [Parameter] = []
        func add(_ name: String, _ t: Tensor) { let p = Parameter(name: name, value: t); ps.append(p) }
        let hd = dim / heads
        add("embed", Tensor.randomNormal([vocab, dim], std: 0.5, using: &g))
        for l in 0..<layers {
            add("l\(l).attn_norm", Tensor(repeating: 1, shape: [dim]))
            add("l\(l).q", Tensor.randomNormal([heads * hd, dim], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).k", Tensor.randomNormal([kvHeads * hd, dim], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).v", Tensor.randomNormal([kvHeads * hd, dim], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).o", Tensor.randomNormal([dim, heads * hd], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).mlp_norm", Tensor(repeating: 1, shape: [dim]))
            add("l\(l).gate", Tensor.randomNormal([hidden, dim], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).up", Tensor.randomNormal([hidden, dim], std: 1 / Float(dim).squareRoot(), using: &g))
            add("l\(l).down", Tensor.randomNormal([dim, hidden], std: 1 / Float(hidden).squareRoot(), using: &g))
        }
        add("norm", Tensor(repeating: 1, shape: [dim]))
        add("head", Tensor.randomNormal([vocab, dim], std: 1 / Float(dim).squareRoot(), using: &g))
        parameters = ps
        for p in ps { byName[p.name] = p }
        table = RopeTable(inverseFrequencies: RopeTable.defaultInverseFrequencies(headDim: hd, base: 10_000), maxPositions: 512)
    }

    public func parameter(_ name: String) -> Parameter { byName[name]! }

    /// Mean next-token loss of `ids` ([B·T], row-major) against `targets`.
    public func loss(_ tape: Tape, ids: [Int32], targets: [Int32], batch: Int, length: Int, checkpoint: Bool = false) throws -> Var {
        let positions = (0..<batch).flatMap { _ in (0..<length).map { Int32($0) } }
        var x = try tape.embedding(tape.parameter(parameter("embed")), ids: ids)
        for l in 0..<layers {
            let block: CheckpointBody = { [self] t, inputs in
                try self.block(t, inputs[0], layer: l, positions: positions, batch: batch, length: length)
            }
            x = checkpoint ? try tape.checkpoint([x], block) : try block(tape, [x])
        }
        let h = try tape.rmsnorm(x, weight: tape.parameter(parameter("norm")), eps: 1e-5)
        let logits = try tape.linear(h, weight: tape.parameter(parameter("head")))
        return try tape.crossEntropy(logits, targets: targets)
    }

    func block(_ t: Tape, _ x: Var, layer l: Int, positions: [Int32], batch: Int, length: Int) throws -> Var {
        let hd = headDim
        let p = { (n: String) in t.parameter(self.parameter("l\(l).\(n)")) }
        let h = try t.rmsnorm(x, weight: p("attn_norm"), eps: 1e-5)
        var q = try t.reshape(try t.linear(h, weight: p("q")), [batch, length, heads, hd])
        var k = try t.reshape(try t.linear(h, weight: p("k")), [batch, length, kvHeads, hd])
        let v = try t.reshape(try t.linear(h, weight: p("v")), [batch, length, kvHeads, hd])
        q = try t.rope(q, positions: positions, table: table)
        k = try t.rope(k, positions: positions, table: table)
        let a = try t.reshape(try t.attention(q: q, k: k, v: v), [batch * length, heads * hd])
        let x1 = try t.add(x, try t.linear(a, weight: p("o")))
        let h2 = try t.rmsnorm(x1, weight: p("mlp_norm"), eps: 1e-5)
        let m = try t.swiglu(gate: try t.linear(h2, weight: p("gate")), up: try t.linear(h2, weight: p("up")))
        return try t.add(x1, try t.linear(m, weight: p("down")))
    }
}
