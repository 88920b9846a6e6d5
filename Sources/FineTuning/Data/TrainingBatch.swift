// TrainingBatch: what one optimizer step consumes. B rows of T tokens, row-major, with
// next-token targets (−100 where nothing is counted: padding, prompts, each example's last
// position). Padded batches put one example per row; packed batches fill rows of exactly
// maxSequenceLength with several examples, separated by segment ids and restarting positions.

/// One batch of token rows and their next-token targets.
public struct TrainingBatch: Sendable {
    /// Input ids, [B·T] row-major.
    public var inputIDs: [Int32]
    /// [B·T]; `targets[i]` is the token expected after position i, −100 = not counted
    /// (padding, prompt, last position of an example).
    public var targets: [Int32]
    /// B, the number of rows.
    public var batchSize: Int
    /// T: the longest row, or `maxSequenceLength` when packing.
    public var length: Int
    /// Position id per token ([B·T]), restarting at 0 for each packed example; nil unless packing.
    public var positions: [Int32]?
    /// Segment id per token ([B·T]), one per packed example (padding has its own); nil unless packing.
    public var segments: [Int32]?
    /// The number of targets that are not −100.
    public var targetTokenCount: Int
    /// The number of tokens that are not padding.
    public var tokenCount: Int

    /// The target value that is left out of the loss (PyTorch's `ignore_index`).
    public static let ignoredTarget: Int32 = -100

    /// A batch from its parts; the counts are computed.
    public init(inputIDs: [Int32], targets: [Int32], batchSize: Int, length: Int,
                positions: [Int32]? = nil, segments: [Int32]? = nil, tokenCount: Int) {
        precondition(inputIDs.count == batchSize * length && targets.count == inputIDs.count,
                     "TrainingBatch: \(inputIDs.count) ids and \(targets.count) targets for \(batchSize)×\(length)")
        self.inputIDs = inputIDs
        self.targets = targets
        self.batchSize = batchSize
        self.length = length
        self.positions = positions
        self.segments = segments
        self.targetTokenCount = targets.reduce(0) { $0 + ($1 == Self.ignoredTarget ? 0 : 1) }
        self.tokenCount = tokenCount
    }

    /// One example per row, padded with `padID` to the longest; `minimumLength` pads further.
    public init(padding examples: [TokenizedExample], padID: Int32 = 0, minimumLength: Int = 0) {
        self.init(rows: examples.map { [$0] }, length: max(examples.map(\.count).max() ?? 0, minimumLength),
                  padID: padID, packed: false)
    }

    /// Rows of several examples each, every row `length` tokens (padding after the last example).
    public init(packing rows: [[TokenizedExample]], length: Int, padID: Int32 = 0) {
        self.init(rows: rows, length: length, padID: padID, packed: true)
    }

    private init(rows: [[TokenizedExample]], length: Int, padID: Int32, packed: Bool) {
        let total = rows.count * length
        var ids = [Int32](repeating: padID, count: total)
        var targets = [Int32](repeating: Self.ignoredTarget, count: total)
        var positions = packed ? [Int32](repeating: 0, count: total) : []
        var segments = packed ? [Int32](repeating: 0, count: total) : []
        var tokenCount = 0
        for (r, row) in rows.enumerated() {
            var at = r * length
            let rowEnd = at + length
            for (s, example) in row.enumerated() {
                precondition(at + example.count <= rowEnd, "TrainingBatch: row \(r) holds more than \(length) tokens")
                for (i, token) in example.tokens.enumerated() {
                    ids[at + i] = Int32(token)
                    // Position i predicts token i + 1 of the same example only.
                    if i + 1 < example.count, example.targetMask[i + 1] { targets[at + i] = Int32(example.tokens[i + 1]) }
                    if packed {
                        positions[at + i] = Int32(i)
                        segments[at + i] = Int32(s)
                    }
                }
                at += example.count
                tokenCount += example.count
            }
            if packed {
                // Padding forms its own segment, so no real token attends to it.
                for (i, p) in (at..<rowEnd).enumerated() {
                    positions[p] = Int32(i)
                    segments[p] = Int32(row.count)
                }
            }
        }
        self.init(inputIDs: ids, targets: targets, batchSize: rows.count, length: length,
                  positions: packed ? positions : nil, segments: packed ? segments : nil, tokenCount: tokenCount)
    }
}

/// First-fit packing of examples, taken in a given order, into rows of a fixed capacity.
enum FirstFitPacker {
    /// Row contents (indices into `lengths`) after placing each index of `order`, in turn, into
    /// the first row with room for it. Every length must be in 1...capacity.
    /// A max-tree over the rows' free space finds that row in O(log n).
    static func pack(lengths: [Int], order: [Int], capacity: Int) -> [[Int]] {
        guard !order.isEmpty else { return [] }
        var size = 1
        while size < order.count { size *= 2 }
        // tree[size + r] = free space of row r; unopened rows are empty, so the leftmost
        // row with room is either an open one or the next new one.
        var tree = [Int](repeating: capacity, count: 2 * size)
        var rows: [[Int]] = []
        for index in order {
            let need = lengths[index]
            precondition(need >= 1 && need <= capacity, "FirstFitPacker: length \(need) outside 1...\(capacity)")
            var node = 1
            while node < size { node = tree[2 * node] >= need ? 2 * node : 2 * node + 1 }
            let row = node - size
            if row == rows.count { rows.append([]) }
            rows[row].append(index)
            tree[node] -= need
            node /= 2
            while node >= 1 {
                tree[node] = max(tree[2 * node], tree[2 * node + 1])
                node /= 2
            }
        }
        return rows
    }
}
