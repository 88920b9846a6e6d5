// Builds a tokenizer from a Hugging Face model folder (tokenizer.json + optional tokenizer_config.json).
// Every component the file names is checked here; one we do not implement is a thrown
// `TokenizerError.unsupported` naming it, never a silently different tokenization.
import Foundation

/// Loads tokenizers from Hugging Face folders and from GGUF metadata.
public enum TokenizerLoader {
    /// Token ids beyond this are taken for corrupt input rather than allocated for.
    static let maxTokenID = 1 << 24

    /// Loads `folder/tokenizer.json`, with `folder/tokenizer_config.json` when present.
    public static func load(folder: URL) throws -> any Tokenizer {
        let jsonURL = folder.appendingPathComponent("tokenizer.json")
        guard let json = try? Data(contentsOf: jsonURL) else {
            throw TokenizerError.fileNotFound(path: jsonURL.path)
        }
        let configURL = folder.appendingPathComponent("tokenizer_config.json")
        let config = try? Data(contentsOf: configURL)
        return try load(tokenizerJSON: json, config: config, fileName: jsonURL.path)
    }

    /// Builds a tokenizer from the bytes of a tokenizer.json and, optionally, a tokenizer_config.json.
    /// `fileName` is only used in error messages.
    public static func load(tokenizerJSON: Data, config: Data? = nil,
                            fileName: String = "tokenizer.json") throws -> any Tokenizer {
        let file = fileName
        let spec: TokenizerJSON = try decodeJSON(TokenizerJSON.self, from: tokenizerJSON, file: file)
        let configFile = (file as NSString).deletingLastPathComponent + "/tokenizer_config.json"
        let settings = try config.map { try decodeJSON(TokenizerConfigJSON.self, from: $0, file: configFile) }

        let vocab = try JSONSkimmer.modelVocabulary(Array(tokenizerJSON), file: file)
        let bpe = try buildModel(spec.model, vocab: vocab, file: file)
        if let bad = spec.addedTokens?.first(where: { $0.id < 0 || $0.id >= maxTokenID }) {
            throw TokenizerError.invalidJSON(file: file, detail: "added_tokens: id \(bad.id) of \"\(bad.content)\" is outside 0..<\(maxTokenID)")
        }
        let added = (spec.addedTokens ?? []).map {
            AddedToken(content: $0.content, id: $0.id, special: $0.special ?? false, lstrip: $0.lstrip ?? false,
                       rstrip: $0.rstrip ?? false, singleWord: $0.singleWord ?? false,
                       normalized: $0.normalized ?? !($0.special ?? false))
        }
        let normalizers = try spec.normalizer.map { try normalizerSteps($0, file: file) } ?? []
        let preTokenizers = try spec.preTokenizer.map { try preTokenizerSteps($0, file: file) } ?? []
        if let i = preTokenizers.firstIndex(where: { if case .byteLevel = $0 { true } else { false } }),
           i != preTokenizers.count - 1 {
            throw TokenizerError.unsupported(file: file, component: "pre_tokenizer",
                                             detail: "ByteLevel must be the last pre-tokenizer of the sequence")
        }
        let decoders = try spec.decoder.map { try decoderSteps($0, file: file) } ?? []
        var (prefix, suffix) = try spec.postProcessor.map { try template($0, file: file) } ?? ([], [])

        func lookup(_ token: String, _ context: String) throws -> Int {
            if let t = added.first(where: { $0.content == token }) { return t.id }
            if let id = bpe.vocab[token] { return id }
            throw TokenizerError.unknownToken(file: configFile, token: token, context: context)
        }
        var bos = try settings?.bosToken.map { try lookup($0.content, "bos_token") }
        var eos = try settings?.eosToken.map { try lookup($0.content, "eos_token") }
        if bos == nil && prefix.count == 1 { bos = prefix[0] }
        if eos == nil && suffix.count == 1 { eos = suffix[0] }
        func missing(_ key: String) -> TokenizerError {
            .invalidJSON(file: configFile, detail: "add_\(key) is true but \(key) is not set")
        }
        // transformers rebuilds the post-processor from these flags when the config sets them.
        if let addBOS = settings?.addBOSToken {
            if addBOS { guard let b = bos else { throw missing("bos_token") }; prefix = [b] } else { prefix = [] }
        }
        if let addEOS = settings?.addEOSToken {
            if addEOS { guard let e = eos else { throw missing("eos_token") }; suffix = [e] } else { suffix = [] }
        }
        return PipelineTokenizer(model: .bpe(bpe), vocabulary: bpe.vocab, addedTokens: added, normalizers: normalizers,
                                 preTokenizers: preTokenizers, decoders: decoders, prefixIDs: prefix,
                                 suffixIDs: suffix, bosTokenID: bos, eosTokenID: eos)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            let detail: String
            switch error {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
                let path = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                detail = (path.isEmpty ? "" : "at \(path): ") + c.debugDescription
            @unknown default:
                detail = "\(error)"
            }
            throw TokenizerError.invalidJSON(file: file, detail: detail)
        } catch {
            throw TokenizerError.invalidJSON(file: file, detail: "\(error)")
        }
    }

    private static func buildModel(_ m: ModelJSON, vocab: [(String, Int)]?, file: String) throws -> BPEModel {
        guard m.type == nil || m.type == "BPE" else {
            throw TokenizerError.unsupported(file: file, component: "model", detail: "type \(m.type ?? "") (expected BPE)")
        }
        guard let vocab else { throw TokenizerError.invalidJSON(file: file, detail: "model.vocab is missing") }
        if let bad = vocab.first(where: { $0.1 < 0 || $0.1 >= maxTokenID }) {
            throw TokenizerError.invalidJSON(file: file, detail: "model.vocab: id \(bad.1) of \"\(bad.0)\" is outside 0..<\(maxTokenID)")
        }
        if let bad = m.malformedMerge {
            throw TokenizerError.invalidMerge(file: file, index: bad.index, merge: bad.text,
                                              reason: "expected two tokens separated by one space")
        }
        var pairs = [(String, String)]()
        for (i, pair) in (m.merges ?? []).enumerated() {
            guard pair.count == 2 else {
                throw TokenizerError.invalidMerge(file: file, index: i, merge: pair.joined(separator: " "),
                                                  reason: "expected a pair of tokens")
            }
            pairs.append((pair[0], pair[1]))
        }
        if let p = m.continuingSubwordPrefix, !p.isEmpty {
            throw TokenizerError.unsupported(file: file, component: "model", detail: "continuing_subword_prefix \"\(p)\"")
        }
        if let s = m.endOfWordSuffix, !s.isEmpty {
            throw TokenizerError.unsupported(file: file, component: "model", detail: "end_of_word_suffix \"\(s)\"")
        }
        if let d = m.dropout, d > 0 {
            throw TokenizerError.unsupported(file: file, component: "model", detail: "BPE dropout \(d)")
        }
        return try BPEModel(vocab: Vocabulary(vocab), merges: pairs, unknownToken: m.unknownToken, fuseUnknown: m.fuseUnknown ?? false,
                            byteFallback: m.byteFallback ?? false, ignoreMerges: m.ignoreMerges ?? false, file: file)
    }

    private static func normalizerSteps(_ c: ComponentJSON, file: String) throws -> [NormalizerStep] {
        switch c.type {
        case "Sequence": return try (c.normalizers ?? []).flatMap { try normalizerSteps($0, file: file) }
        case "NFC": return [.nfc]
        case "NFD": return [.nfd]
        case "NFKC": return [.nfkc]
        case "NFKD": return [.nfkd]
        case "Prepend": return [.prepend(c.prepend ?? "")]
        case "Replace":
            guard let pattern = c.pattern?.string else {
                throw TokenizerError.unsupported(file: file, component: "normalizer", detail: "Replace with a regex pattern")
            }
            return [.replace(pattern: pattern, content: c.content ?? "")]
        default:
            throw TokenizerError.unsupported(file: file, component: "normalizer", detail: c.type)
        }
    }

    static func preTokenizerSteps(_ c: ComponentJSON, file: String) throws -> [PreTokenizerStep] {
        switch c.type {
        case "Sequence":
            return try (c.pretokenizers ?? []).flatMap { try preTokenizerSteps($0, file: file) }
        case "Split":
            guard let regex = c.pattern?.regex, let pattern = SplitPattern(regex: regex) else {
                let shown = c.pattern?.regex ?? c.pattern?.string ?? "?"
                throw TokenizerError.unsupported(file: file, component: "pre_tokenizer",
                                                 detail: "Split pattern \(shown) (supported: GPT-2, Llama 3, Qwen2, o200k regexes)")
            }
            guard (c.behavior ?? "Isolated") == "Isolated", !(c.invert ?? false) else {
                throw TokenizerError.unsupported(file: file, component: "pre_tokenizer",
                                                 detail: "Split behavior \(c.behavior ?? "") invert \(c.invert ?? false)")
            }
            return [.split(pattern)]
        case "Digits":
            return [.digits(individual: c.individualDigits ?? false)]
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: c.addPrefixSpace ?? true, useRegex: c.useRegex ?? true)]
        case "Metaspace":
            let scheme: PrependScheme
            if let s = c.prependScheme {
                guard let parsed = PrependScheme(rawValue: s) else {
                    throw TokenizerError.unsupported(file: file, component: "pre_tokenizer", detail: "Metaspace prepend_scheme \(s)")
                }
                scheme = parsed
            } else {
                scheme = (c.addPrefixSpace ?? true) ? .always : .never
            }
            return [.metaspace(replacement: try scalar(c.replacement ?? "▁", "replacement", file),
                               prependScheme: scheme, split: c.split ?? true)]
        default:
            throw TokenizerError.unsupported(file: file, component: "pre_tokenizer", detail: c.type)
        }
    }

    private static func decoderSteps(_ c: ComponentJSON, file: String) throws -> [DecoderStep] {
        switch c.type {
        case "Sequence": return try (c.decoders ?? []).flatMap { try decoderSteps($0, file: file) }
        case "ByteLevel": return [.byteLevel]
        case "ByteFallback": return [.byteFallback]
        case "Fuse": return [.fuse]
        case "Replace":
            guard let pattern = c.pattern?.string else {
                throw TokenizerError.unsupported(file: file, component: "decoder", detail: "Replace with a regex pattern")
            }
            return [.replace(pattern: pattern, content: c.content ?? "")]
        case "Strip":
            return [.strip(content: try scalar(c.content ?? " ", "Strip content", file), start: c.start ?? 0, stop: c.stop ?? 0)]
        case "Metaspace":
            let scheme = c.prependScheme.flatMap(PrependScheme.init(rawValue:)) ?? ((c.addPrefixSpace ?? true) ? .always : .never)
            return [.metaspace(replacement: try scalar(c.replacement ?? "▁", "replacement", file), prependScheme: scheme)]
        default:
            throw TokenizerError.unsupported(file: file, component: "decoder", detail: c.type)
        }
    }

    /// The ids TemplateProcessing puts before and after a single sequence ($A).
    private static func template(_ c: ComponentJSON, file: String) throws -> ([Int], [Int]) {
        switch c.type {
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            var prefix = [Int](), suffix = [Int]()
            for p in c.processors ?? [] {
                let (a, b) = try template(p, file: file)
                prefix = a + prefix
                suffix += b
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            var prefix = [Int](), suffix = [Int]()
            var seenSequence = false
            for item in c.single ?? [] {
                if item.sequence != nil { seenSequence = true; continue }
                guard let name = item.specialToken?.id else { continue }
                guard let special = c.specialTokens?[name] else {
                    throw TokenizerError.unknownToken(file: file, token: name, context: "post_processor.special_tokens")
                }
                if seenSequence { suffix += special.ids } else { prefix += special.ids }
            }
            return (prefix, suffix)
        default:
            throw TokenizerError.unsupported(file: file, component: "post_processor", detail: c.type)
        }
    }

    private static func scalar(_ s: String, _ what: String, _ file: String) throws -> Unicode.Scalar {
        guard s.unicodeScalars.count == 1, let u = s.unicodeScalars.first else {
            throw TokenizerError.invalidJSON(file: file, detail: "\(what) \"\(s)\" must be a single character")
        }
        return u
    }
}
