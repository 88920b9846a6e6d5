// Incremental decoding for token streaming during generation. A token may end in the middle of a
// UTF-8 character (byte-level BPE, byte fallback), and decoders such as Strip depend on context, so
// text is released only once it decodes cleanly; a short window of earlier tokens gives the context
// (the prefix/read offsets of text-generation-inference).

/// Turns a stream of token ids into text pieces whose concatenation equals decoding all ids at once.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: any Tokenizer
    private let skipSpecialTokens: Bool
    private var ids: [Int] = []
    private var prefixOffset = 0
    private var readOffset = 0
    /// After this many held-back tokens the text is released even if it ends in U+FFFD.
    private let maxPending = 8

    /// A detokenizer over `tokenizer`; `skipSpecialTokens` as in `Tokenizer.decode`.
    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the text it completes (possibly empty, e.g. half a character).
    public mutating func append(_ id: Int) -> String {
        // A skipped special token must not become context: decoders like Strip act on the first token.
        if skipSpecialTokens && tokenizer.decode([id], skipSpecialTokens: true).isEmpty
            && !tokenizer.decode([id], skipSpecialTokens: false).isEmpty {
            return ""
        }
        ids.append(id)
        let before = tokenizer.decode(Array(ids[prefixOffset..<readOffset]), skipSpecialTokens: skipSpecialTokens)
        let after = tokenizer.decode(Array(ids[prefixOffset...]), skipSpecialTokens: skipSpecialTokens)
        let incomplete = after.unicodeScalars.last == "\u{FFFD}" && ids.count - readOffset < maxPending
        if incomplete { return "" }
        prefixOffset = readOffset
        readOffset = ids.count
        return Self.delta(before, after)
    }

    /// `after` less its part in common with `before` (all of `before`, for decoders that only append).
    private static func delta(_ before: String, _ after: String) -> String {
        var common = 0
        for (a, b) in zip(after.utf8, before.utf8) {
            guard a == b else { break }
            common += 1
        }
        return String(decoding: after.utf8.dropFirst(common), as: UTF8.self)
    }

    /// Releases whatever is still held back (an unfinished character becomes U+FFFD).
    public mutating func finish() -> String {
        guard readOffset < ids.count else { return "" }
        let before = tokenizer.decode(Array(ids[prefixOffset..<readOffset]), skipSpecialTokens: skipSpecialTokens)
        let after = tokenizer.decode(Array(ids[prefixOffset...]), skipSpecialTokens: skipSpecialTokens)
        prefixOffset = readOffset
        readOffset = ids.count
        return Self.delta(before, after)
    }

    /// The ids appended so far (less skipped special tokens).
    public var tokenIDs: [Int] { ids }
}
