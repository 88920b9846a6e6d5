// The `tokenizers` pipeline, assembled by the loaders: added tokens → normalizer → pre-tokenizer →
// model (BPE or SentencePiece-from-scores) → post-processor (BOS/EOS), and the decoder chain back.
// One type serves every supported tokenizer; the loaders only differ in how they configure it.

/// The subword model at the heart of a pipeline.
enum SubwordModel: Sendable {
    case bpe(BPEModel)
    case sentencePiece(SentencePieceModel)
}

/// A tokenizer built from a tokenizer.json or GGUF metadata; see `TokenizerLoader`.
struct PipelineTokenizer: Tokenizer {
    var model: SubwordModel
    var vocabulary: Vocabulary
    var addedTokens: [AddedToken]
    /// Tokens matched in the raw text, and tokens matched after normalization.
    var rawMatcher: TokenMatcher
    var normalizedMatcher: TokenMatcher
    var normalizers: [NormalizerStep]
    var preTokenizers: [PreTokenizerStep]
    /// The pieces reach the model as bytes (a ByteLevel pre-tokenizer ends the chain).
    var byteLevelInput: Bool
    var decoders: [DecoderStep]
    /// Ids the post-processor puts around a single sequence.
    var prefixIDs: [Int]
    var suffixIDs: [Int]
    var bosTokenID: Int?
    var eosTokenID: Int?
    var specialIDs: Set<Int>
    var addedByID: [Int: String]
    var addedByContent: [TokenString: Int]

    init(model: SubwordModel, vocabulary: Vocabulary, addedTokens: [AddedToken],
         normalizers: [NormalizerStep], preTokenizers: [PreTokenizerStep], decoders: [DecoderStep],
         prefixIDs: [Int], suffixIDs: [Int], bosTokenID: Int?, eosTokenID: Int?) {
        self.model = model
        self.vocabulary = vocabulary
        self.addedTokens = addedTokens
        self.normalizers = normalizers
        self.preTokenizers = preTokenizers
        if case .byteLevel = preTokenizers.last { byteLevelInput = true } else { byteLevelInput = false }
        self.decoders = decoders
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.specialIDs = Set(addedTokens.filter(\.special).map(\.id))
        var byID = [Int: String](), byContent = [TokenString: Int]()
        for t in addedTokens {
            byID[t.id] = t.content
            byContent[TokenString(t.content)] = t.id
        }
        addedByID = byID
        addedByContent = byContent
        rawMatcher = TokenMatcher(addedTokens.filter { !$0.normalized || normalizers.isEmpty })
        // A normalized token is looked for in normalized text, spelled as the normalizer would spell it.
        let normalizedTokens = normalizers.isEmpty ? [] : addedTokens.filter(\.normalized).map { t -> AddedToken in
            var n = t
            n.content = normalizers.reduce(t.content) { $1.apply($0) }
            return n
        }
        normalizedMatcher = TokenMatcher(normalizedTokens)
    }

    var vocabularySize: Int { max(vocabulary.count, (addedByID.keys.max() ?? -1) + 1) }

    func tokenID(_ token: String) -> Int? { addedByContent[TokenString(token)] ?? vocabulary[token] }

    func token(_ id: Int) -> String? { addedByID[id] ?? vocabulary.token(id) }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(text.utf8.count / 3 + 4)
        if addSpecialTokens { out += prefixIDs }
        var segments = [Segment]()
        rawMatcher.split(Substring(text), atStart: true, into: &segments)
        for segment in segments {
            switch segment {
            case .token(let id):
                out.append(id)
            case .text(let raw, let atStart):
                if normalizers.isEmpty {
                    encodeNormalized(raw, atStart: atStart, into: &out)
                    continue
                }
                let normalized = normalizers.reduce(String(raw)) { $1.apply($0) }
                var inner = [Segment]()
                normalizedMatcher.split(Substring(normalized), atStart: atStart, into: &inner)
                for part in inner {
                    switch part {
                    case .token(let id): out.append(id)
                    case .text(let s, let first): encodeNormalized(s, atStart: first, into: &out)
                    }
                }
            }
        }
        if addSpecialTokens { out += suffixIDs }
        return out
    }

    /// The normalizer's and pre-tokenizer's pieces for `text` taken as one segment (for tests and tools).
    func preTokenize(_ text: String) -> [String] {
        let normalized = normalizers.reduce(text) { $1.apply($0) }
        return pieces(Substring(normalized), atStart: true).map { String($0.text) }
    }

    private func pieces(_ text: Substring, atStart: Bool) -> [Piece] {
        if text.isEmpty { return [] }   // `tokenizers` drops empty splits before any pre-tokenizer runs
        var pieces = [Piece(text: text, atStart: atStart)]
        for step in preTokenizers {
            var next = [Piece]()
            next.reserveCapacity(pieces.count)
            for p in pieces { step.apply(p, into: &next) }
            pieces = next
        }
        return pieces
    }

    /// Pre-tokenizes one normalized segment and runs the model on each piece.
    private func encodeNormalized(_ text: Substring, atStart: Bool, into out: inout [Int]) {
        for p in pieces(text, atStart: atStart) where !p.text.isEmpty {
            switch model {
            case .bpe(let bpe):
                if byteLevelInput { bpe.tokenizeByteLevel(p.text, into: &out) } else { bpe.tokenize(String(p.text), into: &out) }
            case .sentencePiece(let spm):
                spm.tokenize(String(p.text), into: &out)
            }
        }
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens = [String]()
        tokens.reserveCapacity(ids.count)
        for id in ids {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            if let t = token(id) { tokens.append(t) }
        }
        if decoders.isEmpty { return tokens.joined(separator: " ") }
        return decoders.reduce(tokens) { $1.apply($0) }.joined()
    }
}
