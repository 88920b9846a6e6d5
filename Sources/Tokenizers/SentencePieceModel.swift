// SentencePiece BPE from piece scores, for GGUF files whose tokenizer model is "llama" (no merges).
// Follows llama.cpp's `llm_tokenizer_spm`, itself sentencepiece's bpe_model.cc: start from UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece
// (leftmost on ties), then spell pieces missing from the vocabulary as "<0xAB>" byte tokens.

/// A SentencePiece vocabulary with scores.
struct SentencePieceModel: Sendable {
    /// Piece spelling ↔ id, for every piece.
    let vocab: Vocabulary
    /// Pieces that merges may produce (normal and user-defined), with their scores.
    let mergeable: [TokenString: Float]
    /// Token ids of "<0x00>"…"<0xFF>" (or -1).
    let byteIDs: [Int32]
    let unknownID: Int?

    init(tokens: [String], scores: [Float], tokenTypes: [Int32]?, unknownID: Int?) {
        let vocab = Vocabulary(tokens.enumerated().map { ($1, $0) })   // a repeated spelling: the last id, as llama.cpp
        var mergeable = [TokenString: Float](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() {
            let type = tokenTypes?[id] ?? GGUFTokenType.normal
            if type == GGUFTokenType.normal || type == GGUFTokenType.userDefined {
                mergeable[TokenString(token)] = scores[id]
            }
        }
        self.vocab = vocab
        self.mergeable = mergeable
        self.byteIDs = (0..<256).map { b in Int32(vocab[BPEModel.byteToken(UInt8(b))] ?? -1) }
        self.unknownID = unknownID
    }

    private struct Symbol {
        var start: Int   // byte offset into the text
        var length: Int  // 0 once merged into its left neighbour
        var prev: Int
        var next: Int
    }

    private struct Bigram: HeapPriority {
        var score: Float
        var left: Int
        var right: Int
        var size: Int
        // Higher score first, then smaller `left` (llama.cpp's comparator).
        static func heapPrecedes(_ a: Bigram, _ b: Bigram) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
    }

    /// Tokenizes `text`, which already has spaces written as "▁".
    func tokenize(_ text: String, into out: inout [Int]) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return }
        var symbols = [Symbol]()
        var offset = 0
        for scalar in text.unicodeScalars {
            let n = UTF8.width(scalar)
            symbols.append(Symbol(start: offset, length: n, prev: symbols.count - 1, next: symbols.count + 1))
            offset += n
        }
        symbols[symbols.count - 1].next = -1

        var heap = PriorityHeap<Bigram>()
        func slice(_ start: Int, _ length: Int) -> String {
            String(decoding: bytes[start..<(start + length)], as: UTF8.self)
        }
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let l = symbols[left], r = symbols[right]
            guard let score = mergeable[TokenString(slice(l.start, l.length + r.length))] else { return }
            heap.push(Bigram(score: score, left: left, right: right, size: l.length + r.length))
        }
        for i in 1..<symbols.count { tryAdd(i - 1, i) }

        while let bigram = heap.pop() {
            let l = symbols[bigram.left], r = symbols[bigram.right]
            if l.length == 0 || r.length == 0 || l.length + r.length != bigram.size { continue }
            symbols[bigram.left].length += r.length
            symbols[bigram.right].length = 0
            symbols[bigram.left].next = r.next
            if r.next >= 0 { symbols[r.next].prev = bigram.left }
            tryAdd(symbols[bigram.left].prev, bigram.left)
            tryAdd(bigram.left, symbols[bigram.left].next)
        }

        var i = 0
        while i >= 0 {
            let s = symbols[i]
            if let id = vocab[slice(s.start, s.length)] {
                out.append(id)
            } else {
                for b in bytes[s.start..<(s.start + s.length)] {
                    let id = byteIDs[Int(b)]
                    if id >= 0 { out.append(Int(id)) } else if let u = unknownID { out.append(u) }
                }
            }
            i = s.next
        }
    }
}
