// Gemma 3 and Gemma 2 from GGUF (llama.cpp's `gemma3` / `gemma2`). Two conventions differ from the
// Hugging Face checkpoint: convert_hf_to_gguf.py (conversion/gemma.py, `norm_shift`) stores every
// norm weight as 1 + w, undone here so that weights inside Lorikeet are always in the HF form;
// and the GGUF has no layer_types / query_pre_attn_scalar / local RoPE base, which take
// transformers' and llama.cpp's defaults (Gemma 3: every 6th layer global, 10 000 for sliding
// layers; Gemma 2: alternating, one RoPE base). q/k rows are not permuted.
import TensorCore
import ModelFormats

extension ModelLoader {
    /// The configuration of a `gemma3` or `gemma2` GGUF.
    static func gemmaConfiguration(gguf: GGUFFile) throws -> LlamaConfiguration {
        let a = gguf.architecture ?? "gemma3"
        let gemma2 = a == "gemma2"
        func int(_ key: String) throws -> Int {
            guard let v = gguf["\(a).\(key)"]?.int else {
                throw ConfigurationError.invalid(field: "\(a).\(key)", reason: "is missing", source: gguf.path)
            }
            return v
        }
        if !gemma2 && (gguf["\(a).final_logit_softcapping"] != nil || gguf["\(a).attn_logit_softcapping"] != nil) {
            throw ConfigurationError.invalid(field: "\(a).final_logit_softcapping", reason: "soft-capping is not supported", source: gguf.path)
        }
        // Layer and head counts size per-layer lists and a division below, before validate() runs.
        let hidden = try int("embedding_length")
        let heads = try LlamaConfiguration.checkedSize(int("attention.head_count"), field: "\(a).attention.head_count", source: gguf.path)
        let layers = try LlamaConfiguration.checkedSize(int("block_count"), field: "\(a).block_count", source: gguf.path)
        let headDim = gguf["\(a).attention.key_length"]?.int ?? 256
        var scaling: RopeScaling?
        if gguf["\(a).rope.scaling.type"]?.string == "linear", let f = gguf["\(a).rope.scaling.factor"]?.float {
            scaling = .linear(factor: f)
        }
        let scalar = impliedQueryPreAttnScalar(architecture: a, layers: layers, hidden: hidden, heads: heads, headDim: headDim)
        let theta = gguf["\(a).rope.freq_base"]?.float ?? (gemma2 ? 10_000 : 1_000_000)
        let gemma = GemmaSettings(queryPreAttnScalar: scalar, slidingWindow: gguf["\(a).attention.sliding_window"]?.int ?? 4096,
                                  slidingLayers: GemmaSettings.defaultSlidingLayers(count: layers, pattern: gemma2 ? 2 : 6),
                                  localRopeTheta: gemma2 ? theta : gguf["\(a).rope.freq_base_swa"]?.float ?? 10_000,
                                  attentionSoftcap: gemma2 ? gguf["\(a).attn_logit_softcapping"]?.float ?? 50 : nil,
                                  finalLogitSoftcap: gemma2 ? gguf["\(a).final_logit_softcapping"]?.float ?? 30 : nil)
        let vocabularySize = gguf["\(a).vocab_size"]?.int ?? gguf["tokenizer.ggml.tokens"]?.array?.count ?? 0
        let config = LlamaConfiguration(
            modelType: a,
            vocabularySize: vocabularySize,
            hiddenSize: hidden, intermediateSize: try int("feed_forward_length"), layerCount: layers,
            attentionHeads: heads, kvHeads: gguf["\(a).attention.head_count_kv"]?.int ?? heads, headDim: headDim,
            rmsNormEps: gguf["\(a).attention.layer_norm_rms_epsilon"]?.float ?? 1e-6,
            ropeTheta: theta, ropeScaling: scaling,
            maxPositions: gguf["\(a).context_length"]?.int ?? 131_072,
            tieWordEmbeddings: gguf.info("output.weight") == nil,
            bosTokenID: gguf["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenIDs: gguf["tokenizer.ggml.eos_token_id"]?.int.map { [$0] } ?? [], queryKeyNorm: !gemma2, gemma: gemma,
            paddingTokenID: LlamaConfiguration.paddingTokenID(nil, family: a, vocabularySize: vocabularySize))
        try config.validate(source: gguf.path)
        return config
    }

    /// The attention scale GGUF readers assume (a GGUF has no query_pre_attn_scalar): head_dim,
    /// except for the 27B models (Gemma 3: 62 layers, Gemma 2: 46), where it is hidden / heads,
    /// as every published checkpoint has it and llama.cpp decides it.
    static func impliedQueryPreAttnScalar(architecture: String, layers: Int, hidden: Int, heads: Int, headDim: Int) -> Float {
        let is27B = layers == (architecture == "gemma2" ? 46 : 62)
        return is27B ? Float(hidden / heads) : Float(headDim)
    }

    /// A Hugging Face Gemma norm weight (w) in GGUF's form (1 + w).
    static func gemmaNormToGGUF(_ t: Tensor) -> Tensor {
        var w = t.widened().copied()
        w.withUnsafeMutableFloats { p in for i in p.indices { p[i] += 1 } }
        return w
    }

    /// A Gemma norm weight as stored in GGUF (1 + w) back in the Hugging Face form (w).
    static func gemmaNormFromGGUF(_ t: Tensor) -> Tensor {
        var w = t.widened().copied()
        w.withUnsafeMutableFloats { p in for i in p.indices { p[i] -= 1 } }
        return w
    }
}

extension ModelLoader {
    /// Gemma 3's chat template (google/gemma-3-*-it tokenizer_config.json, text content only): a
    /// system message becomes a prefix of the first user turn; the assistant's role is "model".
    static let gemmaChatTemplate = """
        {{ bos_token }}
        {%- if messages[0]['role'] == 'system' -%}
            {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
            {%- set loop_messages = messages[1:] -%}
        {%- else -%}
            {%- set first_user_prefix = "" -%}
            {%- set loop_messages = messages -%}
        {%- endif -%}
        {%- for message in loop_messages -%}
            {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
                {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
            {%- endif -%}
            {%- if (message['role'] == 'assistant') -%}
                {%- set role = "model" -%}
            {%- else -%}
                {%- set role = message['role'] -%}
            {%- endif -%}
            {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
            {{- message['content'] | trim }}
            {{- '<end_of_turn>\\n' }}
        {%- endfor -%}
        {%- if add_generation_prompt -%}
            {{ '<start_of_turn>model\\n' }}
        {%- endif -%}
        """
}
