// Token spellings compared byte for byte. Swift's String is compared and hashed up to canonical
// equivalence ("é" == "e\u{301}", "Å" == "\u{212B}"), but a vocabulary may hold both spellings as
// different tokens, and `tokenizers` / llama.cpp look tokens up by their exact bytes.

/// A string that is equal to another only when their UTF-8 bytes are.
struct TokenString: Hashable, Sendable {
    let value: String

    init(_ value: String) { self.value = value }

    static func == (a: TokenString, b: TokenString) -> Bool {
        a.value.utf8.count == b.value.utf8.count && a.value.utf8.elementsEqual(b.value.utf8)
    }

    func hash(into hasher: inout Hasher) {
        let hashed: Void? = value.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if hashed == nil { Array(value.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
    }
}

/// A model vocabulary: exact spelling → id, and id → spelling.
struct Vocabulary: Sendable {
    private var ids: [TokenString: Int]
    /// Spellings by id; "" marks an id no token has.
    private(set) var tokens: [String]

    /// Builds from (spelling, id) pairs; when a spelling repeats, the later pair wins (as a dict would).
    init<S: Sequence>(_ pairs: S) where S.Element == (String, Int) {
        var ids = [TokenString: Int]()
        var tokens = [String]()
        for (token, id) in pairs {
            ids[TokenString(token)] = id
            if id >= tokens.count { tokens += Array(repeating: "", count: id + 1 - tokens.count) }
            tokens[id] = token
        }
        self.ids = ids
        self.tokens = tokens
    }

    /// The id of an exact spelling.
    subscript(_ token: String) -> Int? { ids[TokenString(token)] }

    /// The spelling of an id, or nil for ids outside the vocabulary.
    func token(_ id: Int) -> String? {
        guard id >= 0 && id < tokens.count, !tokens[id].isEmpty else { return nil }
        return tokens[id]
    }

    /// One more than the largest id.
    var count: Int { tokens.count }
}
