// The BPE model of `tokenizers` (models/bpe): a vocabulary, ranked merges, and the merge loop that
// always applies the lowest-ranked pair first (leftmost on ties). Symbols are ids, so the loop never
// builds strings. Supports byte fallback ("<0xAB>" tokens), unk / fuse_unk, ignore_merges, and a
// per-word cache. continuing_subword_prefix / end_of_word_suffix / dropout are not supported.
import Foundation

/// A BPE vocabulary with its merge table.
struct BPEModel: Sendable {
    /// Token spelling ↔ id.
    let vocab: Vocabulary
    /// (left id, right id) packed as `left << 32 | right` → `rank << 32 | merged id`.
    let merges: [UInt64: UInt64]
    /// Token id of the single-scalar byte-level token for each byte, -1 if missing.
    let byteLevelIDs: [Int32]
    /// Token ids of "<0x00>"…"<0xFF>" when byte fallback is on.
    let byteFallbackIDs: [Int32]?
    let unknownID: Int?
    let fuseUnknown: Bool
    let ignoreMerges: Bool
    let cache = WordCache()

    /// Builds the model; `merges` are pairs of token spellings, best first.
    /// Throws `invalidMerge` naming `file` and the rule when a pair or its result is not in `vocab`.
    init(vocab: Vocabulary, merges: [(String, String)], unknownToken: String?, fuseUnknown: Bool,
         byteFallback: Bool, ignoreMerges: Bool, file: String) throws {
        self.vocab = vocab
        var table = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = vocab[a], let right = vocab[b] else {
                throw TokenizerError.invalidMerge(file: file, index: rank, merge: "\(a) \(b)",
                                                  reason: "\(vocab[a] == nil ? a : b) is not in the vocabulary")
            }
            guard let merged = vocab[a + b] else {
                throw TokenizerError.invalidMerge(file: file, index: rank, merge: "\(a) \(b)",
                                                  reason: "the merged token \(a + b) is not in the vocabulary")
            }
            let key = UInt64(left) << 32 | UInt64(right)
            table[key] = UInt64(rank) << 32 | UInt64(merged)  // a repeated rule: the later rank wins, as in `tokenizers`
        }
        self.merges = table
        self.byteLevelIDs = (0..<256).map { b in
            Int32(vocab[String(Character(ByteLevel.scalarForByte[b]))] ?? -1)
        }
        if byteFallback {
            byteFallbackIDs = (0..<256).map { b in Int32(vocab[Self.byteToken(UInt8(b))] ?? -1) }
        } else {
            byteFallbackIDs = nil
        }
        if let unknownToken {
            guard let id = vocab[unknownToken] else {
                throw TokenizerError.unknownToken(file: file, token: unknownToken, context: "model.unk_token")
            }
            unknownID = id
        } else {
            unknownID = nil
        }
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
    }

    /// The spelling of a byte-fallback token, "<0x0A>" for a newline.
    static func byteToken(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (b < 16 ? "0" + hex : hex) + ">"
    }

    /// Tokenizes one pre-tokenized piece given as raw text bytes, spelled in the byte-level alphabet.
    func tokenizeByteLevel(_ piece: Substring, into out: inout [Int]) {
        let key = String(piece)
        if let hit = cache.get(key) { out += hit; return }
        var symbols = [Int32]()
        symbols.reserveCapacity(piece.utf8.count)
        for b in piece.utf8 {
            let id = byteLevelIDs[Int(b)]
            if id < 0 {  // a byte missing from the alphabet: take the general path
                let ids = tokenizeScalars(ByteLevel.encode(piece.utf8))
                cache.put(key, ids)
                out += ids
                return
            }
            symbols.append(id)
        }
        if ignoreMerges, let id = vocab[ByteLevel.encode(piece.utf8)] {
            cache.put(key, [id]); out.append(id); return
        }
        let ids = mergeAll(symbols)
        cache.put(key, ids)
        out += ids
    }

    /// Tokenizes one piece scalar by scalar (SentencePiece-style vocabularies, "▁Hello").
    func tokenize(_ piece: String, into out: inout [Int]) {
        if let hit = cache.get(piece) { out += hit; return }
        let ids = tokenizeScalars(piece)
        cache.put(piece, ids)
        out += ids
    }

    private func tokenizeScalars(_ piece: String) -> [Int] {
        if ignoreMerges, let id = vocab[piece] { return [id] }
        var symbols = [Int32]()
        var pendingUnknown = false
        for scalar in piece.unicodeScalars {
            if let id = vocab[String(Character(scalar))] {
                if pendingUnknown, let u = unknownID { symbols.append(Int32(u)); pendingUnknown = false }
                symbols.append(Int32(id))
                continue
            }
            if let fallback = byteFallbackIDs {
                let ids = Array(String(scalar).utf8).map { fallback[Int($0)] }
                if !ids.contains(where: { $0 < 0 }) {
                    symbols += ids  // as in `tokenizers`: a pending unk stays pending
                    continue
                }
            }
            guard let u = unknownID else { continue }
            if pendingUnknown && !fuseUnknown { symbols.append(Int32(u)) }
            pendingUnknown = true
        }
        if pendingUnknown, let u = unknownID { symbols.append(Int32(u)) }
        return mergeAll(symbols)
    }

    /// The merge loop of `tokenizers`' `Word::merge_all`: a min-heap on (rank, position) over a
    /// linked list of symbols; an entry is stale when its pair no longer yields the same token.
    func mergeAll(_ initial: [Int32]) -> [Int] {
        var ids = initial
        let n = ids.count
        if n < 2 { return ids.map(Int.init) }
        var next = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var prev = (0..<n).map { Int32($0) - 1 }
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[UInt64(UInt32(bitPattern: ids[i])) << 32 | UInt64(UInt32(bitPattern: ids[i + 1]))] {
                heap.push(rank: UInt32(m >> 32), pos: Int32(i), newID: Int32(truncatingIfNeeded: m))
            }
        }
        var alive = [Bool](repeating: true, count: n)
        while let top = heap.pop() {
            let pos = Int(top.pos)
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = Int(next[pos])
            let key = UInt64(UInt32(bitPattern: ids[pos])) << 32 | UInt64(UInt32(bitPattern: ids[right]))
            guard let m = merges[key], Int32(truncatingIfNeeded: m) == top.newID else { continue }
            ids[pos] = top.newID
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(pos) }
            if prev[pos] >= 0 {
                let p = Int(prev[pos])
                let k = UInt64(UInt32(bitPattern: ids[p])) << 32 | UInt64(UInt32(bitPattern: ids[pos]))
                if let m = merges[k] { heap.push(rank: UInt32(m >> 32), pos: Int32(p), newID: Int32(truncatingIfNeeded: m)) }
            }
            if next[pos] >= 0 {
                let k = UInt64(UInt32(bitPattern: ids[pos])) << 32 | UInt64(UInt32(bitPattern: ids[Int(next[pos])]))
                if let m = merges[k] { heap.push(rank: UInt32(m >> 32), pos: Int32(pos), newID: Int32(truncatingIfNeeded: m)) }
            }
        }
        var out = [Int]()
        var i = 0
        while i >= 0 { out.append(Int(ids[i])); i = Int(next[i]) }
        return out
    }
}

/// Pending merges, lowest (rank, position) first.
struct MergeHeap {
    struct Entry: HeapPriority {
        var key: UInt64
        var newID: Int32
        var pos: Int32 { Int32(truncatingIfNeeded: key) }
        static func heapPrecedes(_ a: Entry, _ b: Entry) -> Bool { a.key < b.key }
    }
    private var heap = PriorityHeap<Entry>()

    mutating func push(rank: UInt32, pos: Int32, newID: Int32) {
        heap.push(Entry(key: UInt64(rank) << 32 | UInt64(UInt32(bitPattern: pos)), newID: newID))
    }

    mutating func pop() -> Entry? { heap.pop() }
}

/// A thread-safe word → ids cache, as `tokenizers` keeps one per BPE model (words under 256 bytes).
final class WordCache: @unchecked Sendable {
    private var table: [TokenString: [Int]] = [:]   // exact keys: "é" and "e\u{301}" tokenize differently
    private let lock = NSLock()
    private static let capacity = 200_000
    private static let maxWordLength = 256

    func get(_ word: String) -> [Int]? {
        lock.lock(); defer { lock.unlock() }
        return table[TokenString(word)]
    }

    func put(_ word: String, _ ids: [Int]) {
        guard word.utf8.count < Self.maxWordLength else { return }
        lock.lock(); defer { lock.unlock() }
        if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
        table[TokenString(word)] = ids
    }
}
