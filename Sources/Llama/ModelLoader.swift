// Loading a model the user already has: a Hugging Face folder (config.json, tokenizer.json,
// *.safetensors, possibly sharded; linears may be bitsandbytes NF4/FP4, kept in 4 bits) or a
// single GGUF file (llama / qwen2 / qwen3 / smollm3 / gemma3 / gemma2 / phi3 architectures).
// GGUF q/k rows are put back in the Hugging Face order, so weights inside Lorikeet are
// always in the Hugging Face layout, under Hugging Face names.
import Foundation
import TensorCore
import ModelFormats
import Tokenizers
import ChatTemplates
import Quantization

/// A model with everything needed to talk to it.
public struct LoadedModel: @unchecked Sendable {
    /// The network.
    public let model: LlamaModel
    /// Its tokenizer.
    public let tokenizer: any Tokenizer
    /// Its chat template, when it ships one.
    public let chatTemplate: ChatTemplate?
    /// Spelling of the BOS / EOS tokens the template uses.
    public let bosToken: String
    public let eosToken: String
    /// Tokens that end a generated turn (EOS ids of config and tokenizer, and <|im_end|> /
    /// <|eot_id|> / <|end|> when the vocabulary has them).
    public let stopTokenIDs: Set<Int>
    /// What it was loaded from (the inspected files, still open).
    public let source: ModelSource
    /// Where it was loaded from.
    public var path: String { source.path }
    /// Folder or GGUF.
    public var format: ModelSource.Format { source.format }

    /// Renders `messages` with the model's chat template (or ChatML when it has none).
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws -> String {
        if let chatTemplate {
            return try chatTemplate.render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                           bosToken: bosToken, eosToken: eosToken)
        }
        var s = messages.map { m -> String in
            var text = ""
            if case let .string(c)? = m.content { text = c }
            return "<|im_start|>\(m.role)\n\(text)<|im_end|>\n"
        }.joined()
        if addGenerationPrompt { s += "<|im_start|>assistant\n" }
        return s
    }
}

/// How the frozen weights of the decoder's linear layers are held after loading.
public struct LoadOptions: @unchecked Sendable {
    /// GGUF: keep quantized linear weights in their GGML blocks (zero-copy from the mapped
    /// file) and widen them on the fly, instead of dequantizing at load. Also accepted for a
    /// bitsandbytes 4-bit folder, whose codes are always kept; refused for other folders.
    public var keepGGUFBlocks = false
    /// Re-encodes each decoder linear weight (given its name and f32 value), e.g. to NF4.
    public var linearQuantizer: ((String, Tensor) throws -> any PackedMatrix)?

    /// Stores every tensor that is not a decoder linear weight (embeddings, output head, norms,
    /// biases) in this dtype when it was loaded wider, e.g. bf16 to halve a GGUF's dequantized
    /// f32 embeddings in a LoRA/QLoRA run where they stay frozen.
    public var unquantizedDType: DType?

    /// With `keepGGUFBlocks`: the token embedding (and the output head, which is often the
    /// same matrix) stays in its GGML blocks too. For generation: the head is read once per
    /// token, and a lookup widens only the rows it needs.
    public var keepEmbeddingBlocks = false
    /// With `keepGGUFBlocks`: single-token products on the kept blocks use 8-bit activations
    /// and integer dot products (GGMLTensor.eightBitActivations), as llama.cpp does.
    public var eightBitActivations = false

    /// The options generation uses: GGML blocks kept (embedding and head included) and
    /// multiplied with 8-bit activations, or, when `exact`, with f32 activations (the numbers
    /// of the dequantized model, slower).
    public static func generation(exact: Bool = false) -> LoadOptions {
        var options = LoadOptions(keepGGUFBlocks: true)
        options.keepEmbeddingBlocks = true
        options.eightBitActivations = !exact
        return options
    }

    /// Options that load every weight as stored (dequantizing GGML blocks to f32).
    public init(keepGGUFBlocks: Bool = false, linearQuantizer: ((String, Tensor) throws -> any PackedMatrix)? = nil,
                unquantizedDType: DType? = nil) {
        self.keepGGUFBlocks = keepGGUFBlocks
        self.linearQuantizer = linearQuantizer
        self.unquantizedDType = unquantizedDType
    }
}

/// Opens model folders and GGUF files.
public enum ModelLoader {
    /// Loads the model `path` names: a folder, a `.gguf` file, or an `ollama:` / `hf:` reference.
    public static func load(_ path: String, options: LoadOptions = LoadOptions()) throws -> LoadedModel {
        try load(ModelSource.open(path), options: options)
    }

    /// Loads the model `source` inspected, from the files it holds open.
    public static func load(_ source: ModelSource, options: LoadOptions = LoadOptions()) throws -> LoadedModel {
        defer { BlockCache.shared.purge() }  // loading frees many one-off buffers: do not keep them
        if source.format == .safetensorsFolder && options.keepGGUFBlocks && source.fourBitFolder == nil {
            throw ConfigurationError.invalid(field: "quant keep", reason: "needs a GGUF file with quantized weights or a bitsandbytes 4-bit folder",
                                             source: source.path)
        }
        return switch source.format {
        case .safetensorsFolder: try loadFolder(source, options: options)
        case .gguf: try loadGGUF(source, options: options)
        }
    }

    /// True when the folder's config.json declares bitsandbytes 4-bit weights.
    public static func isFourBitFolder(_ url: URL) -> Bool {
        guard let q = quantizationConfig(url.appendingPathComponent("config.json")) else { return false }
        return q["quant_method"] as? String == "bitsandbytes" && q["load_in_4bit"] as? Bool == true
    }

    /// The `quantization_config` object of a config.json, if it has one.
    static func quantizationConfig(_ url: URL) -> [String: Any]? {
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return root["quantization_config"] as? [String: Any]
    }

    /// True for the weight of a decoder block's linear layer (q/k/v/o, gate/up/down).
    public static func isDecoderLinearWeight(_ name: String) -> Bool {
        name.hasPrefix("model.layers.") && name.hasSuffix("_proj.weight")
    }

    /// For a multimodal checkpoint (Gemma 3 4B+): each language-model tensor's text-model name
    /// mapped to its name in the file — language_model.model.* (published) or
    /// model.language_model.* (transformers 5 in memory) become model.*, language_model.lm_head
    /// becomes lm_head; the vision tower and the projector are left out. nil for other checkpoints.
    static func textModelNames(_ fileNames: some Collection<String>) -> [String: String]? {
        guard fileNames.contains(where: { $0.hasPrefix("language_model.") || $0.hasPrefix("model.language_model.") }) else { return nil }
        var out: [String: String] = [:]
        for name in fileNames {
            for (prefix, replacement) in [("language_model.model.", "model."), ("model.language_model.", "model."),
                                          ("language_model.lm_head.", "lm_head."), ("lm_head.", "lm_head.")] where name.hasPrefix(prefix) {
                out[replacement + name.dropFirst(prefix.count)] = name
                break
            }
        }
        return out
    }

    /// Applies `options.linearQuantizer` to every decoder linear weight; `released` is told each
    /// name once its source is no longer needed (so its mapped pages can be dropped).
    static func requantize(_ weights: inout [String: Tensor], options: LoadOptions, released: (String) -> Void = { _ in }) throws {
        guard let quantize = options.linearQuantizer else { return }
        for name in weights.keys.sorted() where isDecoderLinearWeight(name) && weights[name]!.packed == nil {
            weights[name] = Tensor(packed: try quantize(name, weights[name]!.widened()))
            released(name)
        }
    }

    /// Narrows every tensor that is not a decoder linear weight to `options.unquantizedDType`
    /// where it is wider (never widens, never touches packed weights).
    static func narrowUnquantized(_ weights: inout [String: Tensor], options: LoadOptions) {
        guard let dtype = options.unquantizedDType else { return }
        for name in weights.keys.sorted() where !isDecoderLinearWeight(name) {
            let t = weights[name]!
            guard t.packed == nil, t.dtype.isFloatingPoint, t.dtype.byteSize > dtype.byteSize else { continue }
            weights[name] = t.widened().narrowed(to: dtype)
        }
    }

    // MARK: Hugging Face folders

    /// The network alone from a Hugging Face folder (config.json + safetensors), weights
    /// viewed zero-copy from the mapped files.
    public static func loadNetwork(folder url: URL, options: LoadOptions = LoadOptions()) throws -> LlamaModel {
        try loadNetwork(ModelSource.openFolder(url.path), options: options)
    }

    /// The network of a folder source, weights viewed zero-copy from its mapped shards.
    static func loadNetwork(_ source: ModelSource, options: LoadOptions) throws -> LlamaModel {
        guard let folder = source.safetensors else {
            throw ConfigurationError.invalid(field: "model", reason: "is not a safetensors folder", source: source.path)
        }
        let fourBit = BitsAndBytes4Bit.quantizedWeights(in: folder.names)
        let fourBitSet = Set(fourBit)
        var weights: [String: Tensor] = [:]
        for name in folder.names where !fourBitSet.contains(name) && !BitsAndBytes4Bit.isCompanion(name, of: fourBitSet) {
            guard let file = folder.file(containing: name) else { continue }
            weights[name] = try file.tensor(name)
        }
        for name in fourBit { weights[name] = Tensor(packed: try BitsAndBytes4Bit.matrix(named: name, in: folder)) }
        let fileName = textModelNames(weights.keys)
        if let fileName { weights = fileName.mapValues { weights[$0]! } }
        // QLoRA on a 16/32-bit folder: each source matrix's pages leave RSS once it is re-encoded,
        // so peak memory is the 4-bit base, not the file (multimodal names map back to the file's).
        try requantize(&weights, options: options) { folder.releasePages(of: fileName?[$0] ?? $0) }
        narrowUnquantized(&weights, options: options)
        return try LlamaModel(configuration: source.configuration, weights: weights, source: source.path)
    }

    static func loadFolder(_ source: ModelSource, options: LoadOptions) throws -> LoadedModel {
        let model = try loadNetwork(source, options: options)
        let url = source.url
        let jsonURL = url.appendingPathComponent("tokenizer.json")
        guard let json = source.tokenizerJSON else { throw TokenizerError.fileNotFound(path: jsonURL.path) }
        let tokenizer = try TokenizerLoader.load(tokenizerJSON: json, config: source.tokenizerConfigJSON, fileName: jsonURL.path)
        var template: ChatTemplate?
        var bos: String?, eos: String?
        if let data = source.tokenizerConfigJSON {
            (template, bos, eos) = try ChatTemplate.fromTokenizerConfig(json: String(decoding: data, as: UTF8.self))
        }
        if let jinja = try? String(contentsOf: url.appendingPathComponent("chat_template.jinja"), encoding: .utf8) {
            template = try ChatTemplate(jinja)
        }
        return finish(model: model, tokenizer: tokenizer, template: template, bos: bos, eos: eos, source: source)
    }

    // MARK: GGUF

    static func loadGGUF(_ source: ModelSource, options: LoadOptions) throws -> LoadedModel {
        guard let gguf = source.gguf else {
            throw ConfigurationError.invalid(field: "model", reason: "is not a GGUF file", source: source.path)
        }
        let config = source.configuration
        var weights = try self.weights(gguf: gguf, configuration: config, keepBlocks: options.keepGGUFBlocks,
                                       keepEmbeddingBlocks: options.keepEmbeddingBlocks,
                                       eightBitActivations: options.eightBitActivations, linearQuantizer: options.linearQuantizer)
        narrowUnquantized(&weights, options: options)
        let model = try LlamaModel(configuration: config, weights: weights, source: source.path)
        let data = try tokenizerData(gguf: gguf)
        let tokenizer = try TokenizerLoader.load(gguf: data)
        // Gemma GGUFs made by GGUF-my-repo from a base model carry no template: use Gemma's own turn format.
        let text = data.chatTemplate ?? (config.gemma != nil ? gemmaChatTemplate : nil)
        let template = try text.map { try ChatTemplate($0) }
        return finish(model: model, tokenizer: tokenizer, template: template, bos: nil, eos: nil, source: source)
    }

    static func finish(model: LlamaModel, tokenizer: any Tokenizer, template: ChatTemplate?, bos: String?, eos: String?,
                       source: ModelSource) -> LoadedModel {
        var stops = Set(model.configuration.eosTokenIDs)
        if let e = tokenizer.eosTokenID { stops.insert(e) }
        for t in ["<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<end_of_turn>"] {
            if let id = tokenizer.tokenID(t) { stops.insert(id) }
        }
        let bosToken = bos ?? tokenizer.bosTokenID.flatMap { tokenizer.token($0) } ?? ""
        let eosToken = eos ?? tokenizer.eosTokenID.flatMap { tokenizer.token($0) } ?? ""
        return LoadedModel(model: model, tokenizer: tokenizer, chatTemplate: template, bosToken: bosToken, eosToken: eosToken,
                           stopTokenIDs: stops, source: source)
    }

    /// The model configuration from GGUF metadata (`<arch>.*` keys).
    public static func configuration(gguf: GGUFFile) throws -> LlamaConfiguration {
        let arch = gguf.architecture ?? "unknown"
        if arch == "gemma3" || arch == "gemma2" { return try gemmaConfiguration(gguf: gguf) }
        guard ["llama", "mistral", "qwen2", "qwen3", "smollm3", "phi3"].contains(arch) else {
            throw ConfigurationError.unsupportedArchitecture(arch, source: gguf.path)
        }
        func int(_ key: String) throws -> Int {
            guard let v = gguf["\(arch).\(key)"]?.int else {
                throw ConfigurationError.invalid(field: "\(arch).\(key)", reason: "is missing", source: gguf.path)
            }
            return v
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let headDim = gguf["\(arch).attention.key_length"]?.int ?? hidden / max(heads, 1)
        let vocab = gguf["\(arch).vocab_size"]?.int ?? gguf["tokenizer.ggml.tokens"]?.array?.count ?? 0
        let maxPositions = gguf["\(arch).context_length"]?.int ?? 2048
        // llama.cpp's n_rot: fewer than head_dim for partial rotary (Phi-4-mini).
        let rotary = gguf["\(arch).rope.dimension_count"]?.int ?? headDim
        var scaling: RopeScaling?
        if arch == "phi3", let long = try? gguf.tensor(named: "rope_factors_long.weight"),
           let short = try? gguf.tensor(named: "rope_factors_short.weight") {
            let original = gguf["phi3.rope.scaling.original_context_length"]?.int ?? 4096
            scaling = .longrope(short: short.floats, long: long.floats, originalMaxPositions: original,
                                attentionFactor: gguf["phi3.rope.scaling.attn_factor"]?.float
                                    ?? LlamaConfiguration.longropeAttentionFactor(maxPositions: maxPositions, originalMaxPositions: original))
        } else if let factors = try? gguf.tensor(named: "rope_freqs.weight") {
            scaling = .frequencyFactors(factors.floats)
        } else if gguf["\(arch).rope.scaling.type"]?.string == "linear", let f = gguf["\(arch).rope.scaling.factor"]?.float {
            scaling = .linear(factor: f)
        }
        let q = gguf.info("blk.0.attn_q.bias") != nil || gguf.info("blk.0.attn_qkv.bias") != nil
        let o = gguf.info("blk.0.attn_output.bias") != nil
        var eos: [Int] = []
        if let e = gguf["tokenizer.ggml.eos_token_id"]?.int { eos.append(e) }
        let config = LlamaConfiguration(
            modelType: ["qwen2", "qwen3", "smollm3", "phi3"].contains(arch) ? arch : "llama",
            vocabularySize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"), attentionHeads: heads,
            kvHeads: gguf["\(arch).attention.head_count_kv"]?.int ?? heads, headDim: headDim,
            rmsNormEps: gguf["\(arch).attention.layer_norm_rms_epsilon"]?.float ?? 1e-5,
            ropeTheta: gguf["\(arch).rope.freq_base"]?.float ?? 10_000, ropeScaling: scaling,
            maxPositions: maxPositions,
            tieWordEmbeddings: gguf.info("output.weight") == nil,
            attentionBias: q, outputBias: o, mlpBias: gguf.info("blk.0.ffn_up.bias") != nil,
            bosTokenID: gguf["tokenizer.ggml.bos_token_id"]?.int, eosTokenIDs: eos,
            queryKeyNorm: gguf.info("blk.0.attn_q_norm.weight") != nil,
            // llama.cpp's smollm3 has no key for it: every 4th layer skips RoPE (n_no_rope_layer_step = 4).
            noRopeLayers: arch == "smollm3" ? try noRopeLayers(gguf) : [],
            fusedProjections: arch == "phi3", rotaryDimensions: rotary,
            // phi3.attention.sliding_window 0 marks a model without one (Phi-4-mini).
            slidingWindow: arch == "phi3" ? gguf["phi3.attention.sliding_window"]?.int.flatMap { $0 > 0 ? $0 : nil } : nil,
            // transformers reading a GGUF leaves pad_token_id at its config class's default.
            paddingTokenID: LlamaConfiguration.paddingTokenID(nil, family: arch, vocabularySize: vocab))
        try config.validate(source: gguf.path)
        return config
    }

    /// SmolLM3's NoPE layers from GGUF: `smollm3.no_rope_layers` (1 = RoPE, 0 = none; written by
    /// Lorikeet) when present, else llama.cpp's fixed rule, every 4th layer (n_no_rope_layer_step = 4).
    static func noRopeLayers(_ gguf: GGUFFile) throws -> Set<Int> {
        guard let count = gguf["smollm3.block_count"]?.int else {
            throw ConfigurationError.invalid(field: "smollm3.block_count", reason: "is missing", source: gguf.path)
        }
        let layers = try LlamaConfiguration.checkedSize(count, field: "smollm3.block_count", source: gguf.path)
        if let flags = gguf["smollm3.no_rope_layers"]?.ints {
            guard flags.count == layers else {
                throw ConfigurationError.invalid(field: "smollm3.no_rope_layers", reason: "has \(flags.count) entries for \(layers) layers",
                                                 source: gguf.path)
            }
            return Set(flags.indices.filter { flags[$0] == 0 })
        }
        return Set((0..<layers).filter { ($0 + 1) % 4 == 0 })
    }

    /// Every tensor of the GGUF as Float32 under its Hugging Face name, with llama.cpp's
    /// q/k row permutation undone for `llama` files. With `keepBlocks`, quantized decoder
    /// linears stay in their GGML blocks (a packed tensor; rows permuted block-wise), and with
    /// `keepEmbeddingBlocks` also the embedding and output head; `eightBitActivations` sets
    /// that option on every kept matrix. With `linearQuantizer`, each decoder linear is
    /// re-encoded right after it is dequantized, so the whole model never exists in f32 at once.
    public static func weights(gguf: GGUFFile, configuration c: LlamaConfiguration, keepBlocks: Bool = false,
                               keepEmbeddingBlocks: Bool = false, eightBitActivations: Bool = false,
                               linearQuantizer: ((String, Tensor) throws -> any PackedMatrix)? = nil) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let arch = gguf.architecture ?? "llama"
        let permuted = LlamaConfiguration.ggufPermutesQueryKey(architecture: arch)
        for info in gguf.tensorInfos {
            guard let hf = LlamaTensorNames.huggingFaceName(forGGUF: info.name, architecture: arch) else { continue }
            let kept = isDecoderLinearWeight(hf) || (keepEmbeddingBlocks && (hf == "model.embed_tokens.weight" || hf == "lm_head.weight"))
            if keepBlocks && kept && info.type.isQuantized {
                var raw = try gguf.rawTensor(named: info.name)
                if permuted, let projection = LlamaTensorNames.permutation(forGGUF: info.name) {
                    raw = try LlamaPermutation.unpermute(raw, heads: projection == .query ? c.attentionHeads : c.kvHeads)
                }
                raw.eightBitActivations = eightBitActivations
                out[hf] = Tensor(packed: raw)
                continue
            }
            var t = try gguf.tensor(named: info.name)
            if permuted, let projection = LlamaTensorNames.permutation(forGGUF: info.name) {
                t = try LlamaPermutation.unpermute(t, heads: projection == .query ? c.attentionHeads : c.kvHeads)
            }
            if (arch == "gemma3" || arch == "gemma2") && hf.hasSuffix("norm.weight") { t = gemmaNormFromGGUF(t) }
            if let linearQuantizer, isDecoderLinearWeight(hf) {
                t = Tensor(packed: try linearQuantizer(hf, t))
                gguf.releasePages(of: info.name)
            }
            out[hf] = t
        }
        return out
    }

    /// The tokenizer.ggml.* metadata of a GGUF.
    public static func tokenizerData(gguf: GGUFFile) throws -> GGUFTokenizerData {
        guard let model = gguf["tokenizer.ggml.model"]?.string, let tokens = gguf["tokenizer.ggml.tokens"]?.strings else {
            throw ConfigurationError.invalid(field: "tokenizer.ggml.model/tokens", reason: "is missing", source: gguf.path)
        }
        return GGUFTokenizerData(
            model: model, pre: gguf["tokenizer.ggml.pre"]?.string, tokens: tokens,
            scores: gguf["tokenizer.ggml.scores"]?.array?.compactMap(\.float),
            tokenTypes: gguf["tokenizer.ggml.token_type"]?.ints?.map { Int32($0) },
            merges: gguf["tokenizer.ggml.merges"]?.strings,
            bosTokenID: gguf["tokenizer.ggml.bos_token_id"]?.int, eosTokenID: gguf["tokenizer.ggml.eos_token_id"]?.int,
            unknownTokenID: gguf["tokenizer.ggml.unknown_token_id"]?.int, paddingTokenID: gguf["tokenizer.ggml.padding_token_id"]?.int,
            addBOS: gguf["tokenizer.ggml.add_bos_token"]?.bool, addEOS: gguf["tokenizer.ggml.add_eos_token"]?.bool,
            addSpacePrefix: gguf["tokenizer.ggml.add_space_prefix"]?.bool,
            chatTemplate: gguf["tokenizer.chat_template"]?.string)
    }
}
