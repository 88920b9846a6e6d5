// Writes GGUF tokenizer metadata out as a Hugging Face tokenizer.json + tokenizer_config.json, for the
// folder `lorikeet merge` produces; both transformers and `TokenizerLoader` load it. "gpt2" becomes
// byte-level BPE with the file's merges and the pre-tokenizer chain `TokenizerLoader.ggufPreTokenizers`
// picks for tokenizer.ggml.pre; "llama" becomes Llama 2's layout, BPE with byte_fallback whose merges are
// recovered from the scores as transformers' `generate_merges` does. Other models are rejected by name.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exports GGUF tokenizer metadata as Hugging Face tokenizer files.
public enum TokenizerExport {
    /// The bytes of a tokenizer.json equivalent to `data` (as `TokenizerLoader.load(gguf:)` reads it).
    public static func tokenizerJSON(from data: GGUFTokenizerData) throws -> Data {
        Data(try Plan(data).tokenizerJSON().utf8)
    }

    /// The bytes of a tokenizer_config.json for `data`: special tokens, BOS/EOS flags, chat template and,
    /// when given, `model_max_length`.
    public static func tokenizerConfigJSON(from data: GGUFTokenizerData, modelMaxLength: Int?) throws -> Data {
        let plan = try Plan(data)
        func spelling(_ id: Int?) -> String? { id.map { plan.spelling(of: $0) } }
        let config = ConfigFile(
            addBOSToken: plan.addBOS, addEOSToken: plan.addEOS, bosToken: spelling(data.bosTokenID),
            eosToken: spelling(data.eosTokenID), unkToken: spelling(data.unknownTokenID),
            padToken: spelling(data.paddingTokenID), chatTemplate: data.chatTemplate,
            modelMaxLength: modelMaxLength, tokenizerClass: "PreTrainedTokenizerFast",
            cleanUpTokenizationSpaces: false)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(config)
    }

    /// Writes `folder/tokenizer.json` and `folder/tokenizer_config.json`, each to a temporary name in
    /// `folder` first and then renamed over the final name, so a reader never sees half a file.
    public static func write(_ data: GGUFTokenizerData, to folder: URL, modelMaxLength: Int?) throws {
        let files = [("tokenizer.json", try tokenizerJSON(from: data)),
                     ("tokenizer_config.json", try tokenizerConfigJSON(from: data, modelMaxLength: modelMaxLength))]
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, bytes) in files {
            let final = folder.appendingPathComponent(name)
            let temporary = folder.appendingPathComponent(".\(name).\(UUID().uuidString).tmp")
            try bytes.write(to: temporary)
            // rename(2) replaces an existing file atomically; Foundation's moveItem refuses to.
            guard rename(temporary.path, final.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: temporary)
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: final.path,
                                                               NSLocalizedDescriptionKey: "rename: \(reason)"])
            }
        }
    }

    /// tokenizer_config.json; nil fields are left out.
    private struct ConfigFile: Encodable {
        var addBOSToken: Bool
        var addEOSToken: Bool
        var bosToken, eosToken, unkToken, padToken, chatTemplate: String?
        var modelMaxLength: Int?
        var tokenizerClass: String
        var cleanUpTokenizationSpaces: Bool

        enum CodingKeys: String, CodingKey {
            case addBOSToken = "add_bos_token", addEOSToken = "add_eos_token", bosToken = "bos_token"
            case eosToken = "eos_token", unkToken = "unk_token", padToken = "pad_token"
            case chatTemplate = "chat_template", modelMaxLength = "model_max_length"
            case tokenizerClass = "tokenizer_class", cleanUpTokenizationSpaces = "clean_up_tokenization_spaces"
        }
    }
}

/// Everything the two files say, worked out once from the metadata and checked as `load(gguf:)` checks it.
private struct Plan {
    /// Model vocabulary spelling by id (byte-level tokens outside the byte alphabet respelled from UTF-8).
    var vocab: [String]
    var merges: [(String, String)]
    var added: [(id: Int, content: String, special: Bool)]
    var normalizer: String
    var preTokenizer: String
    var decoder: String
    var unknownToken: String?
    var byteFallback: Bool
    var ignoreMerges: Bool
    var addBOS: Bool
    var addEOS: Bool
    var bosID: Int?
    var eosID: Int?

    init(_ data: GGUFTokenizerData) throws {
        try data.validate()
        let types = data.tokenTypes ?? []
        bosID = data.bosTokenID
        eosID = data.eosTokenID
        addEOS = data.addEOS ?? false
        added = []
        switch data.model {
        case "gpt2":
            let steps = try TokenizerLoader.ggufPreTokenizers(data.pre)
            let alphabet = Set(ByteLevel.scalarForByte)
            func inAlphabet(_ t: String) -> Bool { t.unicodeScalars.allSatisfy { alphabet.contains($0) } }
            vocab = data.tokens.map { inAlphabet($0) ? $0 : ByteLevel.encode($0.utf8) }
            guard let strings = data.merges else {
                throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.merges", detail: "missing (required for model gpt2)")
            }
            merges = try strings.enumerated().map { i, m in
                let parts = m.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidMerge(file: "GGUF tokenizer.ggml.merges", index: i, merge: m,
                                                      reason: "expected two tokens separated by one space")
                }
                return (String(parts[0]), String(parts[1]))
            }
            // As transformers' add_gguf_special_tokens: a token outside the byte alphabet cannot be an
            // added token, since `tokenizers` would give it a new id past the vocabulary.
            for (id, type) in types.enumerated() where inAlphabet(data.tokens[id]) {
                if type == GGUFTokenType.control || type == GGUFTokenType.userDefined {
                    added.append((id, data.tokens[id], type == GGUFTokenType.control))
                }
            }
            // The published Llama 3 and Qwen2 tokenizer.json files: Llama 3 takes a word found whole in
            // the vocabulary without merging (llama.cpp does too); Qwen2 normalizes to NFC first.
            ignoreMerges = TokenizerLoader.ggufIgnoresMerges(data.pre)
            normalizer = steps.contains(.split(.qwen2)) ? #"{"type":"NFC"}"# : "null"
            preTokenizer = Self.sequence("pretokenizers", steps.map(Self.json))
            decoder = #"{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}"#
            unknownToken = nil
            byteFallback = false
            addBOS = data.addBOS ?? false
        case "llama":
            guard let scores = data.scores, scores.count == data.tokens.count else {
                throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.scores",
                                                 detail: "expected one score per token (\(data.tokens.count)), found \(data.scores?.count ?? 0)")
            }
            vocab = data.tokens
            merges = TokenizerExport.mergesFromScores(tokens: data.tokens, scores: scores, types: data.tokenTypes)
            for (id, type) in types.enumerated() {
                switch type {
                case GGUFTokenType.control, GGUFTokenType.unknown: added.append((id, data.tokens[id], true))
                case GGUFTokenType.userDefined: added.append((id, data.tokens[id], false))
                default: break
                }
            }
            // Llama 2's tokenizer.json: "▁" before each run of text (so also after every special token).
            let prefixSpace = data.addSpacePrefix ?? true
            let replace = #"{"type":"Replace","pattern":{"String":" "},"content":"▁"}"#
            normalizer = Self.sequence("normalizers", (prefixSpace ? [#"{"type":"Prepend","prepend":"▁"}"#] : []) + [replace])
            preTokenizer = "null"
            decoder = Self.sequence("decoders", [#"{"type":"Replace","pattern":{"String":"▁"},"content":" "}"#,
                                                 #"{"type":"ByteFallback"}"#, #"{"type":"Fuse"}"#]
                                    + (prefixSpace ? [#"{"type":"Strip","content":" ","start":1,"stop":0}"#] : []))
            unknownToken = data.unknownTokenID.map { data.tokens[$0] }
            byteFallback = true
            ignoreMerges = false
            addBOS = data.addBOS ?? true
        default:
            throw TokenizerError.unsupported(file: "GGUF", component: "tokenizer.ggml.model",
                                             detail: "\(data.model) (supported: gpt2, llama)")
        }
        if addBOS && bosID == nil {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.bos_token_id", detail: "missing, but the file asks for it to be added")
        }
        if addEOS && eosID == nil {
            throw TokenizerError.invalidGGUF(key: "tokenizer.ggml.eos_token_id", detail: "missing, but the file asks for it to be added")
        }
    }

    /// How `id` is written in the files: its added-token content, else its vocabulary spelling.
    func spelling(of id: Int) -> String {
        added.first(where: { $0.id == id })?.content ?? vocab[id]
    }

    func tokenizerJSON() -> String {
        var out = #"{"version":"1.0","truncation":null,"padding":null,"added_tokens":["#
        for (i, t) in added.enumerated() {
            if i > 0 { out += "," }
            out += #"{"id":\#(t.id),"content":\#(Self.quote(t.content)),"single_word":false,"lstrip":false,"#
            out += #""rstrip":false,"normalized":false,"special":\#(t.special)}"#
        }
        out += "],\n\"normalizer\":\(normalizer),\n\"pre_tokenizer\":\(preTokenizer),\n"
        out += "\"post_processor\":\(postProcessor()),\n\"decoder\":\(decoder),\n"
        out += #""model":{"type":"BPE","dropout":null,"unk_token":\#(unknownToken.map(Self.quote) ?? "null"),"#
        out += #""continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":\#(byteFallback),"#
        out += #""byte_fallback":\#(byteFallback),"ignore_merges":\#(ignoreMerges),"vocab":{"#
        out.reserveCapacity(out.utf8.count + vocab.count * 24 + merges.count * 24)
        for (id, token) in vocab.enumerated() {
            out += "\n" + Self.quote(token) + ":\(id)" + (id + 1 < vocab.count ? "," : "")
        }
        out += "},\n\"merges\":["
        for (i, (a, b)) in merges.enumerated() {
            out += "\n[" + Self.quote(a) + "," + Self.quote(b) + "]" + (i + 1 < merges.count ? "," : "")
        }
        out += "]}}\n"
        return out
    }

    /// TemplateProcessing with BOS before and EOS after each sequence, as the flags ask.
    private func postProcessor() -> String {
        let prefix = addBOS ? bosID : nil, suffix = addEOS ? eosID : nil
        func template(_ typeID: Int, _ sequence: String) -> [String] {
            func special(_ id: Int?) -> [String] {
                id.map { [#"{"SpecialToken":{"id":\#(Self.quote(spelling(of: $0))),"type_id":\#(typeID)}}"#] } ?? []
            }
            return special(prefix) + [#"{"Sequence":{"id":"\#(sequence)","type_id":\#(typeID)}}"#] + special(suffix)
        }
        var specials = [String: Int]()
        for id in [prefix, suffix].compactMap({ $0 }) { specials[spelling(of: id)] = id }
        let entries = specials.sorted { $0.key < $1.key }.map { name, id in
            "\(Self.quote(name)):{\"id\":\(Self.quote(name)),\"ids\":[\(id)],\"tokens\":[\(Self.quote(name))]}"
        }
        return #"{"type":"TemplateProcessing","single":[\#(template(0, "A").joined(separator: ","))],"#
            + #""pair":[\#((template(0, "A") + template(1, "B")).joined(separator: ","))],"#
            + #""special_tokens":{\#(entries.joined(separator: ","))}}"#
    }

    private static func json(_ step: PreTokenizerStep) -> String {
        switch step {
        case .split(let pattern):
            let regex: String
            switch pattern {
            case .gpt2: regex = SplitPattern.gpt2Regex
            case .llama3: regex = SplitPattern.llama3Regex
            case .qwen2: regex = SplitPattern.qwen2Regex
            case .o200k: regex = SplitPattern.o200kRegex
            }
            return #"{"type":"Split","pattern":{"Regex":\#(quote(regex))},"behavior":"Isolated","invert":false}"#
        case .digits(let individual):
            return #"{"type":"Digits","individual_digits":\#(individual)}"#
        case .byteLevel(let addPrefixSpace, let useRegex):
            return #"{"type":"ByteLevel","add_prefix_space":\#(addPrefixSpace),"trim_offsets":true,"use_regex":\#(useRegex)}"#
        case .metaspace(let replacement, let scheme, let split):
            return #"{"type":"Metaspace","replacement":\#(quote(String(replacement))),"prepend_scheme":"\#(scheme.rawValue)","split":\#(split)}"#
        }
    }

    private static func sequence(_ key: String, _ items: [String]) -> String {
        items.count == 1 ? items[0] : #"{"type":"Sequence","\#(key)":[\#(items.joined(separator: ","))]}"#
    }

    private static func quote(_ s: String) -> String { TokenizerExport.quote(s) }
}

extension TokenizerExport {
    /// `s` as a JSON string literal; everything but quotes, backslashes and controls is written as is.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x7F:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// BPE merges equivalent to SentencePiece's score order, as transformers' `generate_merges` builds them
    /// from a GGUF: every split of a mergeable piece into two vocabulary pieces, best piece score first,
    /// then longer left and right halves first (its reversed sort key), then vocabulary order.
    static func mergesFromScores(tokens: [String], scores: [Float], types: [Int32]?) -> [(String, String)] {
        var idOf = [TokenString: Int](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() { idOf[TokenString(token)] = id }
        struct Candidate { var left: String, right: String, leftID: Int, rightID: Int, score: Float, leftCount: Int, rightCount: Int }
        var all = [Candidate]()
        for (id, piece) in tokens.enumerated() {
            // Only pieces SentencePiece (and llama.cpp) can merge into: normal and user-defined.
            let type = types?[id] ?? GGUFTokenType.normal
            guard type == GGUFTokenType.normal || type == GGUFTokenType.userDefined else { continue }
            let scalars = Array(piece.unicodeScalars)   // Python slices code points
            guard scalars.count > 1 else { continue }
            var local = [Candidate]()
            for k in 1..<scalars.count {
                var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
                left.append(contentsOf: scalars[..<k])
                right.append(contentsOf: scalars[k...])
                let l = String(left), r = String(right)
                if let a = idOf[TokenString(l)], let b = idOf[TokenString(r)] {
                    local.append(Candidate(left: l, right: r, leftID: a, rightID: b, score: scores[id],
                                           leftCount: k, rightCount: scalars.count - k))
                }
            }
            all += local.sorted { ($0.leftID, $0.rightID) < ($1.leftID, $1.rightID) }
        }
        // Python's sort is stable; carry the position to make Swift's agree.
        let ordered = all.enumerated().sorted { x, y in
            let a = x.element, b = y.element
            if a.score != b.score { return a.score > b.score }
            if a.leftCount != b.leftCount { return a.leftCount > b.leftCount }
            if a.rightCount != b.rightCount { return a.rightCount > b.rightCount }
            return x.offset < y.offset
        }
        return ordered.map { ($0.element.left, $0.element.right) }
    }
}
