// The public face of the Tokenizers module: the `Tokenizer` protocol and its errors.
// Tokenizers here reproduce Hugging Face `tokenizers` exactly (same ids, same decoded text) for the
// Llama family: byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen2, o200k as in Phi-4-mini) and
// SentencePiece-style BPE with byte fallback (Llama 2, Phi-3, Mistral, TinyLlama), loaded from
// tokenizer.json or GGUF metadata.

/// Turns text into token ids and back, as the model was trained to see it.
public protocol Tokenizer: Sendable {
    /// The ids for `text`; with `addSpecialTokens` the configured BOS / EOS (post-processor) are added.
    /// Added and special tokens written in the text (e.g. `<|im_start|>`) are always matched whole.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// The text for `ids`; with `skipSpecialTokens` special tokens are left out. Unknown ids are skipped.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// One more than the largest id in the vocabulary (model vocabulary and added tokens).
    var vocabularySize: Int { get }
    /// The beginning-of-sequence token id, if the tokenizer has one.
    var bosTokenID: Int? { get }
    /// The end-of-sequence token id, if the tokenizer has one.
    var eosTokenID: Int? { get }
    /// The id of a token spelled exactly as in the vocabulary (e.g. `"Ġthe"`, `"<|im_end|>"`).
    func tokenID(_ token: String) -> Int?
    /// The vocabulary spelling of `id`, or nil when out of range.
    func token(_ id: Int) -> String?
}

extension Tokenizer {
    /// The ids for `text` with special tokens added as configured.
    public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true) }
    /// The text for `ids`, keeping special tokens.
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: false) }
}

/// Why a tokenizer could not be loaded. Each case names the file (or GGUF key) and what was expected.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required file is missing.
    case fileNotFound(path: String)
    /// The file is not valid JSON, or a field has the wrong shape; `detail` names the field path.
    case invalidJSON(file: String, detail: String)
    /// The file asks for a component (normalizer, pre-tokenizer, model, decoder, …) we do not implement.
    case unsupported(file: String, component: String, detail: String)
    /// A merge rule refers to a token missing from the vocabulary, or is malformed.
    case invalidMerge(file: String, index: Int, merge: String, reason: String)
    /// A token named by the configuration (special token, template, BOS/EOS) is not in the vocabulary.
    case unknownToken(file: String, token: String, context: String)
    /// GGUF tokenizer metadata is inconsistent (e.g. array lengths differ, ids out of range).
    case invalidGGUF(key: String, detail: String)

    /// A one-line explanation naming the file and what was expected.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "tokenizer file not found: \(path)"
        case .invalidJSON(let file, let detail):
            return "\(file): invalid tokenizer JSON: \(detail)"
        case .unsupported(let file, let component, let detail):
            return "\(file): unsupported \(component): \(detail)"
        case .invalidMerge(let file, let index, let merge, let reason):
            return "\(file): merge #\(index) \"\(merge)\": \(reason)"
        case .unknownToken(let file, let token, let context):
            return "\(file): token \"\(token)\" (\(context)) is not in the vocabulary"
        case .invalidGGUF(let key, let detail):
            return "GGUF tokenizer metadata \(key): \(detail)"
        }
    }
}
