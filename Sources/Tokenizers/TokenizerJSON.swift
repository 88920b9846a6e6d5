// The shape of tokenizer.json (Hugging Face `tokenizers` serialization) and tokenizer_config.json,
// as Decodable types. File keys appear only in CodingKeys. Components (normalizer, pre-tokenizer,
// post-processor, decoder) share one loose type tagged by "type"; `TokenizerLoader` checks them.

/// tokenizer.json.
struct TokenizerJSON: Decodable {
    var addedTokens: [AddedTokenJSON]?
    var normalizer: ComponentJSON?
    var preTokenizer: ComponentJSON?
    var model: ModelJSON
    var postProcessor: ComponentJSON?
    var decoder: ComponentJSON?

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer", model
        case postProcessor = "post_processor", decoder
    }
}

/// One entry of `added_tokens`.
struct AddedTokenJSON: Decodable {
    var id: Int
    var content: String
    var singleWord: Bool?
    var lstrip: Bool?
    var rstrip: Bool?
    var normalized: Bool?
    var special: Bool?

    enum CodingKeys: String, CodingKey {
        case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
    }
}

/// A `{"String": …}` or `{"Regex": …}` pattern.
struct PatternJSON: Decodable {
    var string: String?
    var regex: String?

    enum CodingKeys: String, CodingKey {
        case string = "String", regex = "Regex"
    }
}

/// One item of a TemplateProcessing template: `{"SpecialToken": {"id": …}}` or `{"Sequence": {"id": "A"}}`.
struct TemplateItemJSON: Decodable {
    struct Reference: Decodable {
        var id: String
    }
    var specialToken: Reference?
    var sequence: Reference?

    enum CodingKeys: String, CodingKey {
        case specialToken = "SpecialToken", sequence = "Sequence"
    }
}

/// One entry of TemplateProcessing's `special_tokens`.
struct TemplateSpecialJSON: Decodable {
    var id: String
    var ids: [Int]
}

/// Any normalizer, pre-tokenizer, post-processor or decoder.
struct ComponentJSON: Decodable {
    var type: String
    var normalizers: [ComponentJSON]?
    var pretokenizers: [ComponentJSON]?
    var processors: [ComponentJSON]?
    var decoders: [ComponentJSON]?
    var prepend: String?
    var pattern: PatternJSON?
    var content: String?
    var behavior: String?
    var invert: Bool?
    var individualDigits: Bool?
    var addPrefixSpace: Bool?
    var useRegex: Bool?
    var replacement: String?
    var prependScheme: String?
    var split: Bool?
    var start: Int?
    var stop: Int?
    var single: [TemplateItemJSON]?
    var specialTokens: [String: TemplateSpecialJSON]?

    enum CodingKeys: String, CodingKey {
        case type, normalizers, pretokenizers, processors, decoders, prepend, pattern, content, behavior
        case invert, individualDigits = "individual_digits", addPrefixSpace = "add_prefix_space"
        case useRegex = "use_regex", replacement, prependScheme = "prepend_scheme", split, start, stop
        case single, specialTokens = "special_tokens"
    }
}

/// The `model` object (only BPE is supported); its vocab is read by `JSONSkimmer`.
struct ModelJSON: Decodable {
    var type: String?
    var merges: [[String]]?
    var unknownToken: String?
    var fuseUnknown: Bool?
    var byteFallback: Bool?
    var ignoreMerges: Bool?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    var dropout: Double?
    /// Index of a merge in the "a b" string form that does not split into two parts.
    var malformedMerge: (index: Int, text: String)?

    enum CodingKeys: String, CodingKey {
        case type, merges, unknownToken = "unk_token", fuseUnknown = "fuse_unk"
        case byteFallback = "byte_fallback", ignoreMerges = "ignore_merges"
        case continuingSubwordPrefix = "continuing_subword_prefix", endOfWordSuffix = "end_of_word_suffix"
        case dropout
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        unknownToken = try c.decodeIfPresent(String.self, forKey: .unknownToken)
        fuseUnknown = try c.decodeIfPresent(Bool.self, forKey: .fuseUnknown)
        byteFallback = try c.decodeIfPresent(Bool.self, forKey: .byteFallback)
        ignoreMerges = try c.decodeIfPresent(Bool.self, forKey: .ignoreMerges)
        continuingSubwordPrefix = try c.decodeIfPresent(String.self, forKey: .continuingSubwordPrefix)
        endOfWordSuffix = try c.decodeIfPresent(String.self, forKey: .endOfWordSuffix)
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout)
        // Merges come as ["a", "b"] pairs (tokenizers ≥ 0.20) or as "a b" strings (older files).
        if let pairs = try? c.decodeIfPresent([[String]].self, forKey: .merges) {
            merges = pairs
        } else if let strings = try c.decodeIfPresent([String].self, forKey: .merges) {
            var pairs = [[String]]()
            pairs.reserveCapacity(strings.count)
            for (i, s) in strings.enumerated() {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count != 2, malformedMerge == nil { malformedMerge = (i, s) }
                pairs.append(parts.map(String.init))
            }
            merges = pairs
        }
    }
}

/// A special token in tokenizer_config.json: a plain string or an AddedToken object.
struct ConfigTokenJSON: Decodable {
    var content: String

    private enum CodingKeys: String, CodingKey { case content }

    init(from decoder: Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            content = s
        } else {
            content = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .content)
        }
    }
}

/// The parts of tokenizer_config.json that change tokenization.
struct TokenizerConfigJSON: Decodable {
    var addBOSToken: Bool?
    var addEOSToken: Bool?
    var bosToken: ConfigTokenJSON?
    var eosToken: ConfigTokenJSON?

    enum CodingKeys: String, CodingKey {
        case addBOSToken = "add_bos_token", addEOSToken = "add_eos_token", bosToken = "bos_token"
        case eosToken = "eos_token"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addBOSToken = try c.decodeIfPresent(Bool.self, forKey: .addBOSToken)
        addEOSToken = try c.decodeIfPresent(Bool.self, forKey: .addEOSToken)
        bosToken = try? c.decodeIfPresent(ConfigTokenJSON.self, forKey: .bosToken)   // null is common
        eosToken = try? c.decodeIfPresent(ConfigTokenJSON.self, forKey: .eosToken)
    }
}
