// The forward pass on the autodiff tape. Shapes: B batch, T time, D hidden, V vocabulary,
// N = B·T tokens; hidden states travel as [N, D]. Each block can be checkpointed (only its
// input is kept; it is recomputed during backward).
import TensorCore
import ModelFormats

/// Per-call choices of the forward pass.
public struct ForwardOptions: Sendable {
    /// Recompute each decoder block during backward instead of keeping its activations.
    public var gradientCheckpointing = false
    /// Segment id per token ([B·T]) for packed sequences: attention stays inside a segment.
    public var segments: [Int32]?
    /// Position id per token ([B·T]); default 0..<T for every row.
    public var positions: [Int32]?
    /// Seed of this step's dropout masks (adapters' dropout); nil disables dropout.
    public var dropoutSeed: UInt64?
    /// Creates options (defaults: no checkpointing, no packing, positions 0..<T, no dropout).
    public init(gradientCheckpointing: Bool = false, segments: [Int32]? = nil, positions: [Int32]? = nil,
                dropoutSeed: UInt64? = nil) {
        self.gradientCheckpointing = gradientCheckpointing
        self.segments = segments
        self.positions = positions
        self.dropoutSeed = dropoutSeed
    }
}

extension LlamaModel {
    /// Final hidden states (after the last norm) for `ids` ([B·T], row-major): [N, D].
    public func hiddenStates(_ tape: Tape, ids: [Int32], batch: Int, length: Int, options: ForwardOptions = ForwardOptions()) throws -> Var {
        guard ids.count == batch * length else {
            throw TensorError.shapeMismatch(op: "LlamaModel ids", lhs: [ids.count], rhs: [batch, length])
        }
        let positions = options.positions ?? (0..<batch).flatMap { _ in (0..<Int32(length)).map { $0 } }
        var x = try embed(tape, ids: ids)
        for layer in 0..<configuration.layerCount {
            let block: CheckpointBody = { [self] t, inputs in
                try self.decoderBlock(t, inputs[0], layer: layer, batch: batch, length: length,
                                      positions: positions, segments: options.segments, cache: nil,
                                      dropoutSeed: options.dropoutSeed)
            }
            x = options.gradientCheckpointing ? try tape.checkpoint([x], block) : try block(tape, [x])
        }
        return try finalNorm(tape, x)
    }

    /// Token embeddings [N, D] (scaled by √D for Gemma).
    func embed(_ t: Tape, ids: [Int32]) throws -> Var {
        let x = try t.embedding(t.parameter(parameter("model.embed_tokens.weight")), ids: ids,
                                paddingIndex: configuration.paddingTokenID.map(Int32.init))
        return configuration.gemma == nil ? x : t.scale(x, by: gemmaEmbeddingScale)
    }

    /// The last norm before the head.
    func finalNorm(_ t: Tape, _ x: Var) throws -> Var {
        try t.rmsnorm(x, weight: t.parameter(parameter("model.norm.weight")), eps: configuration.rmsNormEps,
                      weightOffset: normWeightOffset)
    }

    /// Logits [N, V] for every position.
    public func logits(_ tape: Tape, ids: [Int32], batch: Int, length: Int, options: ForwardOptions = ForwardOptions()) throws -> Var {
        let h = try hiddenStates(tape, ids: ids, batch: batch, length: length, options: options)
        return try capLogits(tape, try tape.linear(h, weight: tape.parameter(parameter(headName))))
    }

    /// Cross-entropy of next-token predictions: `targets[i]` is the token expected after
    /// position i (−100 = not counted). Returns Σ loss / normalizer (default: counted tokens).
    public func loss(_ tape: Tape, ids: [Int32], targets: [Int32], batch: Int, length: Int,
                     normalizer: Float? = nil, options: ForwardOptions = ForwardOptions()) throws -> Var {
        // The head and the loss fused: logits only for rows that count, a chunk at a time.
        let h = try hiddenStates(tape, ids: ids, batch: batch, length: length, options: options)
        if configuration.gemma?.finalLogitSoftcap != nil {
            // Soft-capped logits (Gemma 2) cannot go through the fused head: form them whole.
            let logits = try capLogits(tape, try tape.linear(h, weight: tape.parameter(parameter(headName))))
            return try tape.crossEntropy(logits, targets: targets, normalizer: normalizer)
        }
        return try tape.linearCrossEntropy(h, weight: tape.parameter(parameter(headName)), targets: targets, normalizer: normalizer)
    }

    /// y = x·Wᵀ (+ b) for `module` of decoder layer `names`, plus its adapter's contribution
    /// when one is attached.
    func project(_ t: Tape, _ x: Var, _ module: LinearModule, of names: LayerNames, dropoutSeed: UInt64?) throws -> Var {
        let i = LayerNames.index[module]!
        let path = names.paths[i]
        let bias = parameters[names.biases[i]].map { t.parameter($0) }
        let weight = t.parameter(parameter(names.weights[i]))
        guard let adapter = adapters[path] else { return try t.linear(x, weight: weight, bias: bias) }
        // Each module gets its own mask stream: mix the step's seed with the path.
        let seed = dropoutSeed.map { $0 ^ path.stableHash }
        return try adapter.forward(t, input: x, weight: weight, bias: bias, context: AdapterContext(path: path, dropoutSeed: seed))
    }

    /// RMSNorm of every head of `x` ([B, T, heads, head_dim]) with the weight `name` ([head_dim]).
    func headNorm(_ t: Tape, _ x: Var, _ name: String, heads: Int, batch: Int, length: Int) throws -> Var {
        let c = configuration
        let rows = try t.reshape(x, [batch * length * heads, c.headDim])
        let normed = try t.rmsnorm(rows, weight: t.parameter(parameter(name)), eps: c.rmsNormEps, weightOffset: normWeightOffset)
        return try t.reshape(normed, [batch, length, heads, c.headDim])
    }

    /// The rotary table of a forward pass over `positions`: LongRoPE switches to its long factors
    /// when the pass reaches past the original context (transformers decides per call, by the
    /// largest position, and so do we).
    func ropeTable(positions: [Int32]) -> RopeTable {
        guard let longRope, case let .longrope(_, _, original, _) = configuration.ropeScaling,
              let last = positions.max(), Int(last) + 1 > original else { return rope }
        return longRope
    }

    /// q, k and v ([N, q], [N, kv], [N, kv]): three projections, or Phi-3's one qkv_proj split by columns.
    func queryKeyValue(_ t: Tape, _ h: Var, of n: LayerNames, dropoutSeed: UInt64?) throws -> (Var, Var, Var) {
        let c = configuration
        guard c.fusedProjections else {
            return (try project(t, h, .queryProjection, of: n, dropoutSeed: dropoutSeed),
                    try project(t, h, .keyProjection, of: n, dropoutSeed: dropoutSeed),
                    try project(t, h, .valueProjection, of: n, dropoutSeed: dropoutSeed))
        }
        let q = c.attentionHeads * c.headDim, kv = c.kvHeads * c.headDim
        let qkv = try project(t, h, .qkvProjection, of: n, dropoutSeed: dropoutSeed)
        let parts = (try t.columns(qkv, 0..<q), try t.columns(qkv, q..<(q + kv)), try t.columns(qkv, (q + kv)..<(q + 2 * kv)))
        t.discard(qkv)
        return parts
    }

    /// gate and up ([N, F] each): two projections, or Phi-3's one gate_up_proj (gate first) split by columns.
    func gateAndUp(_ t: Tape, _ h: Var, of n: LayerNames, dropoutSeed: UInt64?) throws -> (Var, Var) {
        let f = configuration.intermediateSize
        guard configuration.fusedProjections else {
            return (try project(t, h, .gateProjection, of: n, dropoutSeed: dropoutSeed),
                    try project(t, h, .upProjection, of: n, dropoutSeed: dropoutSeed))
        }
        let gateUp = try project(t, h, .gateUpProjection, of: n, dropoutSeed: dropoutSeed)
        let parts = (try t.columns(gateUp, 0..<f), try t.columns(gateUp, f..<(2 * f)))
        t.discard(gateUp)
        return parts
    }

    /// One decoder block: x + attn(norm(x)), then + mlp(norm(·)). x: [N, D].
    func decoderBlock(_ t: Tape, _ x: Var, layer: Int, batch: Int, length: Int,
                      positions: [Int32], segments: [Int32]?, cache: CacheUse?, dropoutSeed: UInt64? = nil) throws -> Var {
        if configuration.gemma != nil {
            return try gemmaDecoderBlock(t, x, layer: layer, batch: batch, length: length, positions: positions,
                                         segments: segments, cache: cache, dropoutSeed: dropoutSeed)
        }
        let c = configuration
        let n = layerNames[layer]
        let h = try t.rmsnorm(x, weight: t.parameter(parameter(n.inputNorm)), eps: c.rmsNormEps)
        let (qLinear, kLinear, vLinear) = try queryKeyValue(t, h, of: n, dropoutSeed: dropoutSeed)
        var qHeads = try t.reshape(qLinear, [batch, length, c.attentionHeads, c.headDim])
        var kHeads = try t.reshape(kLinear, [batch, length, c.kvHeads, c.headDim])
        let v = try t.reshape(vLinear, [batch, length, c.kvHeads, c.headDim])
        if c.queryKeyNorm {
            // Qwen3: RMSNorm over each head's head_dim values, before RoPE.
            qHeads = try headNorm(t, qHeads, n.queryNorm, heads: c.attentionHeads, batch: batch, length: length)
            kHeads = try headNorm(t, kHeads, n.keyNorm, heads: c.kvHeads, batch: batch, length: length)
        }
        let q: Var
        let k: Var
        if c.noRopeLayers.contains(layer) {
            (q, k) = (qHeads, kHeads)   // NoPE layer (SmolLM3): attention without positions
        } else {
            let table = ropeTable(positions: positions)
            q = try t.rope(qHeads, positions: positions, table: table)
            k = try t.rope(kHeads, positions: positions, table: table)
            t.discard(qLinear, qHeads, kLinear, kHeads)  // rotary backward needs no input: free them now
        }
        let attended = try cache.map { try $0.attend(t, layer: layer, q: q, k: k, v: v, window: c.slidingWindow) }
            ?? t.attention(q: q, k: k, v: v, segments: segments, window: c.slidingWindow)
        let a = try t.reshape(attended, [batch * length, c.attentionHeads * c.headDim])
        let attnOut = try project(t, a, .outputProjection, of: n, dropoutSeed: dropoutSeed)
        let x1 = try t.add(x, attnOut)
        t.discard(attnOut)
        let h2 = try t.rmsnorm(x1, weight: t.parameter(parameter(n.postAttentionNorm)), eps: c.rmsNormEps)
        let (gate, up) = try gateAndUp(t, h2, of: n, dropoutSeed: dropoutSeed)
        let mlpOut = try project(t, try t.swiglu(gate: gate, up: up), .downProjection, of: n, dropoutSeed: dropoutSeed)
        let out = try t.add(x1, mlpOut)
        t.discard(mlpOut)
        return out
    }
}
