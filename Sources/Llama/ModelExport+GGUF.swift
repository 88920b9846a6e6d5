// Writing a whole model as a GGUF file llama.cpp (and Ollama, LM Studio) loads: general.* and
// `<arch>.*` hyperparameters as convert_hf_to_gguf.py writes them, the tokenizer
// (tokenizer.ggml.* copied from a GGUF source, or built from tokenizer.json for a folder),
// the chat template, llama.cpp's q/k row permutation for `llama` models, Gemma 3 norms as 1 + w, and every weight in
// the requested type. One tensor exists widened at a time: each is made (dequantized, merged,
// permuted) only when the writer reaches it.
import Foundation
import TensorCore
import Quantization
import ModelFormats
import Tokenizers

/// What a GGUF model export stored.
public struct GGUFExportReport: Sendable {
    /// Each tensor's GGUF name and stored type, in file order.
    public var tensors: [(name: String, type: GGMLType)]
    /// Tensors stored in another type than asked because their rows are not whole blocks of it.
    public var fallbacks: [(name: String, type: GGMLType)]
    /// Tensors whose GGML blocks were copied unchanged from the source (already that type, not adapted).
    public var copied: Int
}

extension ModelExport {
    /// The tensor types `writeGGUF` can store a model's matrices in.
    public static let ggufModelTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// The type a matrix with rows of `rowLength` is stored in when `type` is asked: `type` when
    /// the rows are whole blocks of it, else llama-quantize's fallback (Q4_K → Q5_0, Q5_K → Q5_1,
    /// Q6_K → Q8_0, then F16 when even 32-element blocks do not fit).
    public static func ggufStorageType(_ type: GGMLType, rowLength: Int) -> GGMLType {
        if rowLength % type.blockSize == 0 { return type }
        let fallback: GGMLType = switch type {
        case .q4_K: .q5_0
        case .q5_K: .q5_1
        case .q6_K: .q8_0
        default: .f16
        }
        return rowLength % fallback.blockSize == 0 ? fallback : .f16
    }

    /// llama.cpp's `general.file_type` (llama_ftype) for a model whose matrices are `type`.
    public static func ggufFileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q4_K: 14   // Q4_K_S: every matrix Q4_K
        case .q5_K: 16   // Q5_K_S
        case .q6_K: 18
        case .bf16: 32
        default: 1024    // LLAMA_FTYPE_GUESSED
        }
    }

    /// Writes `weights` (Hugging Face names and layout) as a GGUF model at `url`, matrices as
    /// `type` (1-D tensors stay F32), with the tokenizer and chat template of `source`. `adjust`
    /// maps each weight named in `adjusted` right before it is encoded (a merge adds its
    /// adapter there); other weights already held in `type`'s blocks are copied unchanged.
    @discardableResult
    public static func writeGGUF(weights: [String: Tensor], configuration c: LlamaConfiguration, source: LoadedModel,
                                 to url: URL, type: GGMLType, name: String, adjusted: Set<String> = [],
                                 adjust: ((String, Tensor) throws -> Tensor)? = nil) throws -> GGUFExportReport {
        try writeGGUF(weights: weights, configuration: c, tokenizer: try tokenizerMetadata(source: source, configuration: c),
                      to: url, type: type, name: name, adjusted: adjusted, adjust: adjust)
    }

    /// `writeGGUF` with the tokenizer given as its GGUF keys (`tokenizer.*`; empty for a file
    /// that only Lorikeet's network loader reads, such as a test model without a tokenizer).
    @discardableResult
    public static func writeGGUF(weights: [String: Tensor], configuration c: LlamaConfiguration, tokenizer: [(String, GGUFValue)],
                                 to url: URL, type: GGMLType, name: String, adjusted: Set<String> = [],
                                 adjust: ((String, Tensor) throws -> Tensor)? = nil) throws -> GGUFExportReport {
        guard ggufModelTypes.contains(type) else {
            throw ConfigurationError.invalid(field: "quant", reason: "\(type) is not one of \(ggufModelTypes.map(\.name).joined(separator: ", "))",
                                             source: url.path)
        }
        var w = GGUFWriter()
        try hyperparameters(c, name: name, fileType: ggufFileType(type)).forEach { w.set($0.0, $0.1) }
        for (key, value) in tokenizer { w.set(key, value) }
        var report = GGUFExportReport(tensors: [], fallbacks: [], copied: 0)
        if let factors = try ropeFactors(c) {
            try w.add("rope_freqs.weight", try Tensor(shape: [factors.count], values: factors), as: .f32)
            report.tensors.append(("rope_freqs.weight", .f32))
        }
        if let (long, short) = longropeFactors(c) {
            for (name, factors) in [("rope_factors_long.weight", long), ("rope_factors_short.weight", short)] {
                try w.add(name, try Tensor(shape: [factors.count], values: factors), as: .f32)
                report.tensors.append((name, .f32))
            }
        }
        for hf in weights.keys.sorted(by: ggufOrder) {
            if hf == "lm_head.weight" && c.tieWordEmbeddings { continue }
            guard let ggufName = LlamaTensorNames.ggufName(forHuggingFace: hf, architecture: c.ggufArchitecture) else {
                throw ConfigurationError.invalid(field: "tensor", reason: "\(hf) has no GGUF name", source: url.path)
            }
            let t = weights[hf]!
            let shape = t.shape
            let stored = shape.count == 1 ? GGMLType.f32 : ggufStorageType(type, rowLength: shape.last ?? 1)
            if shape.count > 1 && stored != type { report.fallbacks.append((ggufName, stored)) }
            report.tensors.append((ggufName, stored))
            let heads = c.ggufPermutesQueryKey ? LlamaTensorNames.permutation(forGGUF: ggufName).map(c.permutationHeads) : nil
            if !adjusted.contains(hf), let raw = t.packed as? GGMLTensor, raw.type == stored {
                try w.add(ggufName, raw: try heads.map { try LlamaPermutation.permute(raw, heads: $0) } ?? raw)
                report.copied += 1
                continue
            }
            try w.add(ggufName, shape: shape, as: stored) {
                var x = t
                if adjusted.contains(hf), let adjust { x = try adjust(hf, x) }
                x = x.widened()
                // llama.cpp stores Gemma norms as 1 + w (conversion/gemma.py, norm_shift).
                if c.gemma != nil && hf.hasSuffix("norm.weight") { x = ModelLoader.gemmaNormToGGUF(x) }
                if let heads { x = try LlamaPermutation.permute(x, heads: heads) }
                return x
            }
        }
        try w.write(to: url)
        return report
    }

    /// general.* and `<arch>.*` keys for a model of shape `c`, as convert_hf_to_gguf.py names them.
    static func hyperparameters(_ c: LlamaConfiguration, name: String, fileType: UInt32) throws -> [(String, GGUFValue)] {
        if c.gemma != nil { try checkGemmaFitsGGUF(c, name: name) }
        let a = c.ggufArchitecture
        var kv: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)), ("general.type", .string("model")), ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType)), ("general.quantization_version", .uint32(2)),
            ("\(a).block_count", .uint32(UInt32(c.layerCount))), ("\(a).context_length", .uint32(UInt32(c.maxPositions))),
            ("\(a).embedding_length", .uint32(UInt32(c.hiddenSize))), ("\(a).feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("\(a).attention.head_count", .uint32(UInt32(c.attentionHeads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("\(a).rope.freq_base", .float32(c.ropeTheta)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)),
            ("\(a).vocab_size", .uint32(UInt32(c.vocabularySize))),
            ("\(a).rope.dimension_count", .uint32(UInt32(c.rotaryDimensions))),
        ]
        if let g = c.gemma {
            // gemma3 always carries key/value lengths; layer types and the attention scale are implied.
            kv.append(("\(a).attention.key_length", .uint32(UInt32(c.headDim))))
            kv.append(("\(a).attention.value_length", .uint32(UInt32(c.headDim))))
            kv.append(("\(a).attention.sliding_window", .uint32(UInt32(g.slidingWindow))))
            if a == "gemma3" && g.localRopeTheta != 10_000 { kv.append(("\(a).rope.freq_base_swa", .float32(g.localRopeTheta))) }
            if let cap = g.attentionSoftcap { kv.append(("\(a).attn_logit_softcapping", .float32(cap))) }
            if let cap = g.finalLogitSoftcap { kv.append(("\(a).final_logit_softcapping", .float32(cap))) }
        } else if c.headDim != c.hiddenSize / c.attentionHeads {
            kv.append(("\(a).attention.key_length", .uint32(UInt32(c.headDim))))
            kv.append(("\(a).attention.value_length", .uint32(UInt32(c.headDim))))
        }
        if a == "smollm3" {
            // llama.cpp assumes every 4th layer is NoPE; Lorikeet also reads the layers from this key.
            kv.append(("smollm3.no_rope_layers", .array(elementType: .int32, values: (0..<c.layerCount).map { .int32(c.noRopeLayers.contains($0) ? 0 : 1) })))
        }
        if case let .linear(factor) = c.ropeScaling {
            kv.append(("\(a).rope.scaling.type", .string("linear")))
            kv.append(("\(a).rope.scaling.factor", .float32(factor)))
        }
        if a == "phi3" {
            // As Phi3MiniModel writes them; sliding_window 0 means none (Phi-4-mini).
            kv.append(("phi3.attention.sliding_window", .uint32(UInt32(c.slidingWindow ?? 0))))
            if case let .longrope(_, _, original, factor) = c.ropeScaling {
                kv.append(("phi3.rope.scaling.original_context_length", .uint32(UInt32(original))))
                kv.append(("phi3.rope.scaling.attn_factor", .float32(factor)))
            } else {
                kv.append(("phi3.rope.scaling.original_context_length", .uint32(UInt32(c.maxPositions))))
            }
        }
        // Mistral's sliding_window has no key in llama.cpp's `llama` architecture; its converter
        // drops it too (llama.cpp attends to the whole context), and so does this export.
        return kv
    }

    /// LongRoPE's factor tensors (llama.cpp's rope_factors_long / rope_factors_short), nil for other scalings.
    static func longropeFactors(_ c: LlamaConfiguration) -> (long: [Float], short: [Float])? {
        guard case let .longrope(short, long, _, _) = c.ropeScaling else { return nil }
        return (long, short)
    }

    /// llama.cpp's rope_freqs.weight (one divisor per rotary frequency) for Llama 3.1-style
    /// or per-frequency scaling; nil when the model has neither.
    static func ropeFactors(_ c: LlamaConfiguration) throws -> [Float]? {
        switch c.ropeScaling {
        case let .frequencyFactors(f): return f
        case .llama3:
            var plain = c
            plain.ropeScaling = nil
            return zip(plain.ropeInverseFrequencies, c.ropeInverseFrequencies).map { $0 / $1 }
        case nil, .linear, .longrope: return nil
        }
    }

    /// The tokenizer.* keys: copied as they are from a GGUF source, built from tokenizer.json
    /// (and the chat template) for a folder.
    static func tokenizerMetadata(source: LoadedModel, configuration c: LlamaConfiguration) throws -> [(String, GGUFValue)] {
        if let gguf = source.source.gguf {
            return gguf.metadataKeys.filter { $0.hasPrefix("tokenizer.") }.map { ($0, gguf.metadata[$0]!) }
        }
        guard let json = source.source.tokenizerJSON else {
            throw ConfigurationError.invalid(field: "tokenizer.json", reason: "is missing: a GGUF model needs its tokenizer",
                                             source: source.source.url.appendingPathComponent("tokenizer.json").path)
        }
        let data = try TokenizerExport.ggufData(tokenizerJSON: json, config: source.source.tokenizerConfigJSON,
                                                chatTemplate: source.chatTemplate?.source, vocabularySize: c.vocabularySize,
                                                fileName: source.source.url.appendingPathComponent("tokenizer.json").path)
        return tokenizerMetadata(data)
    }

    /// GGUF keys for tokenizer metadata.
    static func tokenizerMetadata(_ d: GGUFTokenizerData) -> [(String, GGUFValue)] {
        var kv: [(String, GGUFValue)] = [("tokenizer.ggml.model", .string(d.model))]
        if let pre = d.pre { kv.append(("tokenizer.ggml.pre", .string(pre))) }
        kv.append(("tokenizer.ggml.tokens", .strings(d.tokens)))
        if let s = d.scores { kv.append(("tokenizer.ggml.scores", .array(elementType: .float32, values: s.map { .float32($0) }))) }
        if let t = d.tokenTypes { kv.append(("tokenizer.ggml.token_type", .array(elementType: .int32, values: t.map { .int32($0) }))) }
        if let m = d.merges { kv.append(("tokenizer.ggml.merges", .strings(m))) }
        for (key, id) in [("bos_token_id", d.bosTokenID), ("eos_token_id", d.eosTokenID),
                          ("unknown_token_id", d.unknownTokenID), ("padding_token_id", d.paddingTokenID)] {
            if let id { kv.append(("tokenizer.ggml.\(key)", .uint32(UInt32(id)))) }
        }
        if let b = d.addBOS { kv.append(("tokenizer.ggml.add_bos_token", .bool(b))) }
        if let e = d.addEOS { kv.append(("tokenizer.ggml.add_eos_token", .bool(e))) }
        if let t = d.chatTemplate { kv.append(("tokenizer.chat_template", .string(t))) }
        return kv
    }

    /// Hugging Face names in llama.cpp's file order: embeddings, then each block (norms, q, k,
    /// v, o, feed-forward), then the final norm and the head.
    static func ggufOrder(_ x: String, _ y: String) -> Bool {
        func key(_ n: String) -> (Int, Int, String) {
            if n.hasPrefix("model.embed_tokens") { return (-1, 0, n) }
            if n.hasPrefix("model.norm") { return (Int.max, 0, n) }
            if n.hasPrefix("lm_head") { return (Int.max, 1, n) }
            let parts = n.split(separator: ".")
            let layer = parts.count > 2 ? Int(parts[2]) ?? 0 : 0
            let order = ["input_layernorm", "q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj", "post_attention_layernorm",
                         "gate_proj", "up_proj", "gate_up_proj", "down_proj"]
            let part = order.firstIndex { n.contains("." + $0 + ".") } ?? order.count
            return (layer, part, n)
        }
        return key(x) < key(y)
    }
}

extension ModelExport {
    /// A GGUF `gemma3` / `gemma2` file has no layer_types or query_pre_attn_scalar: llama.cpp (and
    /// Lorikeet's loader) take every 6th (Gemma 2: every 2nd) layer as global and scale by
    /// head_dim^−½ (hidden/heads for 27B). Refuses a model those defaults would change.
    static func checkGemmaFitsGGUF(_ c: LlamaConfiguration, name: String) throws {
        guard let g = c.gemma else { return }
        func refuse(_ why: String) -> ConfigurationError {
            .invalid(field: "format", reason: "gguf export: \(why) (export a safetensors folder)", source: name)
        }
        let gemma2 = c.modelType == "gemma2"
        if g.slidingLayers != GemmaSettings.defaultSlidingLayers(count: c.layerCount, pattern: gemma2 ? 2 : 6) {
            throw refuse("GGUF implies \(gemma2 ? "alternating sliding and global layers" : "every 6th layer global"); this model's layer_types differ")
        }
        if gemma2 && g.localRopeTheta != c.ropeTheta { throw refuse("gemma2 GGUF has one RoPE base") }
        let implied = ModelLoader.impliedQueryPreAttnScalar(architecture: c.ggufArchitecture, layers: c.layerCount,
                                                           hidden: c.hiddenSize, heads: c.attentionHeads, headDim: c.headDim)
        if g.queryPreAttnScalar != implied {
            throw refuse("query_pre_attn_scalar \(g.queryPreAttnScalar) differs from the \(implied) GGUF readers assume")
        }
    }
}
