// The tokenizer metadata of a GGUF file (the `tokenizer.ggml.*` and `tokenizer.chat_template` keys),
// as a plain value filled by the GGUF reader of the formats layer. This module never reads GGUF
// itself, so it does not depend on that layer.

/// Tokenizer metadata of a GGUF file.
public struct GGUFTokenizerData: Sendable, Equatable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer, e.g. "smollm", "llama-bpe", "qwen2", "default".
    public var pre: String?
    /// `tokenizer.ggml.tokens`: every token's spelling, indexed by id.
    public var tokens: [String]
    /// `tokenizer.ggml.scores`: per-token scores (SentencePiece merge priority).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges`: "a b" merge rules, best first (byte-level BPE only).
    public var merges: [String]?
    /// `tokenizer.ggml.bos_token_id`.
    public var bosTokenID: Int?
    /// `tokenizer.ggml.eos_token_id`.
    public var eosTokenID: Int?
    /// `tokenizer.ggml.unknown_token_id`.
    public var unknownTokenID: Int?
    /// `tokenizer.ggml.padding_token_id`.
    public var paddingTokenID: Int?
    /// `tokenizer.ggml.add_bos_token`; when absent, true for "llama" and false for "gpt2".
    public var addBOS: Bool?
    /// `tokenizer.ggml.add_eos_token`; false when absent.
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_space_prefix` ("llama" only); true when absent.
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?

    /// Creates the metadata; only `model` and `tokens` are required.
    public init(model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil,
                tokenTypes: [Int32]? = nil, merges: [String]? = nil, bosTokenID: Int? = nil,
                eosTokenID: Int? = nil, unknownTokenID: Int? = nil, paddingTokenID: Int? = nil,
                addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil, chatTemplate: String? = nil) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.unknownTokenID = unknownTokenID
        self.paddingTokenID = paddingTokenID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }

    /// Throws, naming the GGUF key, when the token types do not cover the vocabulary or a
    /// special-token id lies outside it.
    func validate() throws {
        if let types = tokenTypes, types.count != tokens.count {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.token_type",
                                             detail: "\(types.count) entries for \(tokens.count) tokens")
        }
        for (key, id) in [("bos_token_id", bosTokenID), ("eos_token_id", eosTokenID),
                          ("unknown_token_id", unknownTokenID), ("padding_token_id", paddingTokenID)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.\(key)", detail: "id \(id) outside 0..<\(tokens.count)")
            }
        }
    }
}

/// GGUF token types (llama.cpp's `llama_token_type`).
enum GGUFTokenType {
    static let normal: Int32 = 1
    static let unknown: Int32 = 2
    static let control: Int32 = 3
    static let userDefined: Int32 = 4
    static let unused: Int32 = 5
    static let byte: Int32 = 6
}
