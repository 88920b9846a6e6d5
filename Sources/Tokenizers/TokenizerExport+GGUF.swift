// The other direction: a Hugging Face tokenizer.json (+ tokenizer_config.json) as GGUF
// tokenizer metadata, for writing a GGUF model from a folder. Byte-level BPE only
// (tokenizer.ggml.model "gpt2"), as convert_hf_to_gguf.py writes it: every token by id,
// padded to the model's vocabulary with `[PAD<id>]` (type unused), added special tokens as
// control, other added tokens as user-defined, the merges as "a b", and tokenizer.ggml.pre
// named by the pre-tokenizer chain (the names `TokenizerLoader.ggufPreTokenizers` reads back).
import Foundation

extension TokenizerExport {
    /// GGUF tokenizer metadata equivalent to a byte-level BPE tokenizer.json, with
    /// `vocabularySize` tokens (at least the tokenizer's own) and the given chat template.
    /// Throws naming the file for tokenizers GGUF cannot hold as "gpt2".
    public static func ggufData(tokenizerJSON: Data, config: Data?, chatTemplate: String?, vocabularySize: Int,
                                fileName: String = "tokenizer.json") throws -> GGUFTokenizerData {
        let spec = try TokenizerLoader.decodeJSON(TokenizerJSON.self, from: tokenizerJSON, file: fileName)
        let steps = try spec.preTokenizer.map { try TokenizerLoader.preTokenizerSteps($0, file: fileName) } ?? []
        guard let pre = ["gpt-2", "smollm", "llama-bpe", "qwen2", "gpt-4o"].first(where: { (try? TokenizerLoader.ggufPreTokenizers($0)) == steps }) else {
            throw TokenizerError.unsupported(file: fileName, component: "pre_tokenizer",
                detail: "\(steps) has no llama.cpp tokenizer.ggml.pre name (GGUF export supports the GPT-2, SmolLM, Llama 3, "
                    + "Qwen2 and o200k byte-level tokenizers; SentencePiece tokenizers are not written to GGUF yet)")
        }
        // GGUF has no normalizer; NFC (Qwen2's) is dropped as convert_hf_to_gguf.py drops it: it only
        // changes text that is not already in NFC.
        let normalizers = spec.normalizer.map { $0.type == "Sequence" ? $0.normalizers ?? [] : [$0] } ?? []
        guard normalizers.allSatisfy({ $0.type == "NFC" }) else {
            throw TokenizerError.unsupported(file: fileName, component: "normalizer",
                                             detail: "\(spec.normalizer!.type) (a byte-level GGUF tokenizer has none)")
        }
        guard let vocab = try JSONSkimmer.modelVocabulary(Array(tokenizerJSON), file: fileName) else {
            throw TokenizerError.invalidJSON(file: fileName, detail: "model.vocab is missing")
        }
        let added = spec.addedTokens ?? []
        let count = max(vocabularySize, (vocab.map(\.1) + added.map(\.id)).max().map { $0 + 1 } ?? 0)
        guard count <= TokenizerLoader.maxTokenID else {
            throw TokenizerError.invalidJSON(file: fileName, detail: "\(count) tokens is more than a GGUF vocabulary can hold here")
        }
        var tokens: [String?] = Array(repeating: nil, count: count)
        var types = [Int32](repeating: GGUFTokenType.normal, count: count)
        for (text, id) in vocab where id >= 0 { tokens[id] = text }
        for t in added where t.id >= 0 {
            tokens[t.id] = t.content
            types[t.id] = t.special ?? false ? GGUFTokenType.control : GGUFTokenType.userDefined
        }
        for i in tokens.indices where tokens[i] == nil {
            tokens[i] = "[PAD\(i)]"
            types[i] = GGUFTokenType.unused
        }
        // The loaded tokenizer settles BOS/EOS and whether BOS is prepended, as transformers does.
        let loaded = try TokenizerLoader.load(tokenizerJSON: tokenizerJSON, config: config, fileName: fileName)
        let pipeline = loaded as? PipelineTokenizer
        let (addBOS, addEOS) = (!(pipeline?.prefixIDs.isEmpty ?? true), !(pipeline?.suffixIDs.isEmpty ?? true))
        return GGUFTokenizerData(
            model: "gpt2", pre: pre, tokens: tokens.map { $0! }, tokenTypes: types,
            merges: (spec.model.merges ?? []).map { $0.joined(separator: " ") },
            bosTokenID: loaded.bosTokenID, eosTokenID: loaded.eosTokenID, addBOS: addBOS, addEOS: addEOS,
            chatTemplate: chatTemplate)
    }
}
