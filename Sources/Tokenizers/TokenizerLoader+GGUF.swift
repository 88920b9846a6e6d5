// Builds a tokenizer from GGUF tokenizer metadata, matching what the published tokenizer.json of the
// same model does (and llama.cpp): "gpt2" → byte-level BPE with the pre-tokenizer named by
// tokenizer.ggml.pre; "llama" → SentencePiece BPE ranked by scores, with byte fallback and a "▁"
// prefix at the start and after every special token (Llama 2's tokenizer.json, llama.cpp).

extension TokenizerLoader {
    /// Builds a tokenizer from the tokenizer metadata of a GGUF file.
    public static func load(gguf data: GGUFTokenizerData) throws -> any Tokenizer {
        try data.validate()
        switch data.model {
        case "gpt2": return try byteLevel(data)
        case "llama": return try sentencePiece(data)
        default:
            throw TokenizerError.unsupported(file: "GGUF", component: "tokenizer.ggml.model",
                                             detail: "\(data.model) (supported: gpt2, llama)")
        }
    }

    /// The pre-tokenizer chain for a byte-level GGUF vocabulary, from tokenizer.ggml.pre.
    static func ggufPreTokenizers(_ pre: String?) throws -> [PreTokenizerStep] {
        switch pre ?? "default" {
        case "default", "gpt2", "gpt-2":
            return [.byteLevel(addPrefixSpace: false, useRegex: true)]
        case "smollm":
            return [.digits(individual: true), .byteLevel(addPrefixSpace: false, useRegex: true)]
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe":
            return [.split(.llama3), .byteLevel(addPrefixSpace: false, useRegex: false)]
        case "qwen2", "deepseek-r1-qwen", "megrez":
            return [.split(.qwen2), .byteLevel(addPrefixSpace: false, useRegex: false)]
        case "gpt-4o", "llama4":
            return [.split(.o200k), .byteLevel(addPrefixSpace: false, useRegex: false)]
        case let other:
            throw TokenizerError.unsupported(file: "GGUF", component: "tokenizer.ggml.pre",
                                             detail: "\(other) (supported: default, gpt2, smollm, llama-bpe, qwen2, gpt-4o)")
        }
    }

    /// Whether a byte-level GGUF vocabulary takes a pre-token found whole in the vocabulary without
    /// merging: llama.cpp's Llama 3 pre-types do (llama-vocab.cpp sets ignore_merges for them), as the
    /// published Llama 3 tokenizer.json does ("ignore_merges": true); merging can miss such a word,
    /// e.g. " Việt" in Llama 3's vocabulary.
    static func ggufIgnoresMerges(_ pre: String?) -> Bool {
        ["llama3", "llama-v3", "llama-bpe", "falcon3"].contains(pre ?? "default")
    }

    private static func byteLevel(_ data: GGUFTokenizerData) throws -> any Tokenizer {
        let preTokenizers = try ggufPreTokenizers(data.pre)
        let alphabet = Set(ByteLevel.scalarForByte)
        func inAlphabet(_ t: String) -> Bool { t.unicodeScalars.allSatisfy { alphabet.contains($0) } }
        // Tokens written outside the byte alphabet are respelled from their UTF-8 (as transformers does).
        let vocab = Vocabulary(data.tokens.enumerated().map { id, token in
            (inAlphabet(token) ? token : ByteLevel.encode(token.utf8), id)
        })
        guard let mergeStrings = data.merges else {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.merges", detail: "missing (required for model gpt2)")
        }
        var merges = [(String, String)]()
        merges.reserveCapacity(mergeStrings.count)
        for (i, m) in mergeStrings.enumerated() {
            let parts = m.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.invalidMerge(file: "GGUF tokenizer.ggml.merges", index: i, merge: m,
                                                  reason: "expected two tokens separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let bpe = try BPEModel(vocab: vocab, merges: merges, unknownToken: nil, fuseUnknown: false,
                               byteFallback: false, ignoreMerges: ggufIgnoresMerges(data.pre),
                               file: "GGUF tokenizer.ggml.merges")
        var added = [AddedToken]()
        for (id, type) in (data.tokenTypes ?? []).enumerated() {
            let token = data.tokens[id]
            if type == GGUFTokenType.control && inAlphabet(token) {
                added.append(AddedToken(content: token, id: id, special: true))
            } else if type == GGUFTokenType.userDefined {
                added.append(AddedToken(content: token, id: id, special: false))
            }
        }
        return PipelineTokenizer(model: .bpe(bpe), vocabulary: vocab, addedTokens: added, normalizers: [],
                                 preTokenizers: preTokenizers, decoders: [.byteLevel],
                                 prefixIDs: (data.addBOS ?? false) ? try required(data.bosTokenID, "bos_token_id") : [],
                                 suffixIDs: (data.addEOS ?? false) ? try required(data.eosTokenID, "eos_token_id") : [],
                                 bosTokenID: data.bosTokenID, eosTokenID: data.eosTokenID)
    }

    private static func sentencePiece(_ data: GGUFTokenizerData) throws -> any Tokenizer {
        guard let scores = data.scores, scores.count == data.tokens.count else {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.scores",
                                             detail: "expected one score per token (\(data.tokens.count)), found \(data.scores?.count ?? 0)")
        }
        let model = SentencePieceModel(tokens: data.tokens, scores: scores, tokenTypes: data.tokenTypes,
                                       unknownID: data.unknownTokenID)
        var added = [AddedToken]()
        for (id, type) in (data.tokenTypes ?? []).enumerated() {
            switch type {
            case GGUFTokenType.control, GGUFTokenType.unknown:
                added.append(AddedToken(content: data.tokens[id], id: id, special: true))
            case GGUFTokenType.userDefined:
                added.append(AddedToken(content: data.tokens[id], id: id, special: false))
            default:
                break
            }
        }
        let prefixSpace = data.addSpacePrefix ?? true
        var decoders: [DecoderStep] = [.replace(pattern: "▁", content: " "), .byteFallback, .fuse]
        if prefixSpace { decoders.append(.strip(content: " ", start: 1, stop: 0)) }
        return PipelineTokenizer(
            model: .sentencePiece(model), vocabulary: model.vocab, addedTokens: added,
            normalizers: (prefixSpace ? [.prepend("▁")] : []) + [.replace(pattern: " ", content: "▁")],
            preTokenizers: [], decoders: decoders,
            prefixIDs: (data.addBOS ?? true) ? try required(data.bosTokenID, "bos_token_id") : [],
            suffixIDs: (data.addEOS ?? false) ? try required(data.eosTokenID, "eos_token_id") : [],
            bosTokenID: data.bosTokenID, eosTokenID: data.eosTokenID)
    }

    private static func required(_ id: Int?, _ key: String) throws -> [Int] {
        guard let id else {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.\(key)", detail: "missing, but the file asks for it to be added")
        }
        return [id]
    }
}
