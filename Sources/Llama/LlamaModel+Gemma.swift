// Gemma 3's and Gemma 2's decoder block (transformers' Gemma3DecoderLayer / Gemma2DecoderLayer):
//   x1 = x + postAttnNorm(attn(inputNorm(x)))      Gemma 3: q, k per-head (1 + w) RMSNorm, then RoPE;
//                                                  Gemma 2: scores soft-capped c·tanh(s/c)
//   out = x1 + postFFNorm(geglu(preFFNorm(x1)))
// Sliding layers attend to the last `slidingWindow` positions and rotate with the local base.
// Shapes: N = B·T tokens, D hidden, H / Hkv heads, hd head size; x: [N, D].
import TensorCore
import ModelFormats

extension LlamaModel {
    /// Gemma multiplies embeddings by √D, rounded to the compute dtype (f32 here).
    var gemmaEmbeddingScale: Float { Float(configuration.hiddenSize).squareRoot() }

    /// 1 for Gemma's (1 + w) norms, 0 otherwise.
    var normWeightOffset: Float { configuration.gemma == nil ? 0 : 1 }

    /// Gemma 2's final soft-capping of logits [N, V] (identity for other models).
    func capLogits(_ t: Tape, _ logits: Var) throws -> Var {
        guard let cap = configuration.gemma?.finalLogitSoftcap else { return logits }
        return try t.softcap(logits, cap: cap)
    }

    func gemmaDecoderBlock(_ t: Tape, _ x: Var, layer: Int, batch: Int, length: Int,
                           positions: [Int32], segments: [Int32]?, cache: CacheUse?, dropoutSeed: UInt64?) throws -> Var {
        let c = configuration, g = c.gemma!
        let n = layerNames[layer]
        let sliding = g.slidingLayers[layer]
        func norm(_ v: Var, _ name: String) throws -> Var {
            try t.rmsnorm(v, weight: t.parameter(parameter(name)), eps: c.rmsNormEps, weightOffset: 1)
        }
        let h = try norm(x, n.inputNorm)
        let qHeads = try t.reshape(try project(t, h, .queryProjection, of: n, dropoutSeed: dropoutSeed),
                                   [batch, length, c.attentionHeads, c.headDim])
        let kHeads = try t.reshape(try project(t, h, .keyProjection, of: n, dropoutSeed: dropoutSeed),
                                   [batch, length, c.kvHeads, c.headDim])
        let v = try t.reshape(try project(t, h, .valueProjection, of: n, dropoutSeed: dropoutSeed),
                              [batch, length, c.kvHeads, c.headDim])
        let table = sliding ? localRope! : rope
        // Gemma 3 normalises each head of q and k before RoPE; Gemma 2 does not.
        let qIn = c.queryKeyNorm ? try headNorm(t, qHeads, n.queryNorm, heads: c.attentionHeads, batch: batch, length: length) : qHeads
        let kIn = c.queryKeyNorm ? try headNorm(t, kHeads, n.keyNorm, heads: c.kvHeads, batch: batch, length: length) : kHeads
        let q = try t.rope(qIn, positions: positions, table: table)
        let k = try t.rope(kIn, positions: positions, table: table)
        let scale = Float(1 / Double(g.queryPreAttnScalar).squareRoot()), window = sliding ? g.slidingWindow : nil
        let attn = try cache.map { try $0.attend(t, layer: layer, q: q, k: k, v: v, scale: scale, window: window, softcap: g.attentionSoftcap) }
            ?? t.attention(q: q, k: k, v: v, segments: segments, scale: scale, window: window, softcap: g.attentionSoftcap)
        let a = try t.reshape(attn, [batch * length, c.attentionHeads * c.headDim])
        let attnOut = try norm(try project(t, a, .outputProjection, of: n, dropoutSeed: dropoutSeed), n.postAttentionNorm)
        let x1 = try t.add(x, attnOut)
        let h2 = try norm(x1, n.preFeedforwardNorm)
        let gate = try project(t, h2, .gateProjection, of: n, dropoutSeed: dropoutSeed)
        let up = try project(t, h2, .upProjection, of: n, dropoutSeed: dropoutSeed)
        let mlp = try project(t, try t.geglu(gate: gate, up: up), .downProjection, of: n, dropoutSeed: dropoutSeed)
        return try t.add(x1, try norm(mlp, n.postFeedforwardNorm))
    }
}
