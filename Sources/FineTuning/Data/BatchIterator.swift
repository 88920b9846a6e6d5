// BatchIterator: an endless stream of TrainingBatch over a Dataset.
// Epoch e shuffles with seed ⊕ e; batches group similar lengths (sort within windows of
// `groupingWindow` batches, then shuffle the batch order) and take `batchSize` examples or, with
// a token budget, as many as fit in it. Padded batches put one example per row; padding-free
// batches put a batch's examples back to back in one row (segment ids and restarting positions
// keep them apart), so no token is padding; packed batches fill rows first-fit.
// Its state (epoch, position, seed) is a small Codable value: restoring it resumes exactly.
// (Training/BatchIterator+Stream.swift makes it the trainer's BatchStream.)
import TensorCore

/// Where a BatchIterator stands; save it in a checkpoint to resume the same batch sequence.
public struct BatchIteratorState: Sendable, Equatable, Codable {
    /// The epoch, from 0.
    public var epoch: Int
    /// The index of the next batch within the epoch's batch order.
    public var position: Int
    /// The base seed; epoch e shuffles with `seed ^ e`.
    public var seed: UInt64

    /// A state at `epoch`, `position`, with base `seed`.
    public init(epoch: Int = 0, position: Int = 0, seed: UInt64) {
        self.epoch = epoch
        self.position = position
        self.seed = seed
    }
}

/// Batches of a Dataset, epoch after epoch without end, reproducible from a seed.
public struct BatchIterator: Sendable {
    /// The examples batched.
    public let dataset: Dataset
    /// Examples per batch (rows per batch when the data set's options ask for packing).
    public let batchSize: Int
    /// When false, every epoch keeps file order (no shuffling).
    public let shuffle: Bool
    /// Length grouping: examples are sorted by length within windows of this many batches.
    /// 1 disables grouping.
    public let groupingWindow: Int
    /// The id written at padded positions (never a target, so any valid id will do).
    public let padID: Int32
    /// When true (and not packing), a batch's examples are concatenated into one row instead of
    /// padded to the longest: the same examples, the same loss, no padding computed.
    public let paddingFree: Bool
    /// When set (and not packing), a batch takes examples while their tokens fit in this many
    /// (padded: rows × the longest; padding-free: the sum), instead of `batchSize` examples.
    /// An example longer than the budget makes a batch of its own.
    public let tokenBudget: Int?
    /// The current epoch's batches: rows of example indices.
    private var plan: [[[Int]]] = []
    private var _state: BatchIteratorState

    /// Creates an iterator at the start of epoch 0, or at `state` when given (its seed then wins).
    /// - Throws: `.invalidOptions` for a batch size, window or token budget below 1 or a token
    ///   budget with packing, `.empty` for no examples.
    public init(dataset: Dataset, batchSize: Int, seed: UInt64 = 0, shuffle: Bool = true,
                groupingWindow: Int = 50, padID: Int32 = 0, paddingFree: Bool = false, tokenBudget: Int? = nil,
                state: BatchIteratorState? = nil) throws {
        guard batchSize >= 1 else { throw DatasetError.invalidOptions("batch size is \(batchSize); expected at least 1") }
        if let tokenBudget {
            guard tokenBudget >= 1 else { throw DatasetError.invalidOptions("token budget is \(tokenBudget); expected at least 1") }
            guard !dataset.options.packing else {
                throw DatasetError.invalidOptions("a token budget does not apply to packing (rows are maxSequenceLength tokens; set the batch size in rows)")
            }
        }
        guard groupingWindow >= 1 else {
            throw DatasetError.invalidOptions("grouping window is \(groupingWindow); expected at least 1")
        }
        guard !dataset.examples.isEmpty else { throw DatasetError.empty(path: dataset.source) }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.groupingWindow = groupingWindow
        self.padID = padID
        self.paddingFree = paddingFree
        self.tokenBudget = tokenBudget
        self._state = state ?? BatchIteratorState(seed: seed)
        makePlan()
    }

    /// The position to resume from; setting it moves the iterator there.
    public var state: BatchIteratorState {
        get { _state }
        set {
            let epochChanged = newValue.epoch != _state.epoch || newValue.seed != _state.seed
            _state = newValue
            if epochChanged { makePlan() }
        }
    }

    /// The number of batches in the current epoch (with packing it can vary between epochs).
    public var batchesPerEpoch: Int { plan.count }

    /// The next batch and the epoch it belongs to; after an epoch's last batch the next epoch starts.
    public mutating func next() -> (batch: TrainingBatch, epoch: Int) {
        if !(0..<plan.count).contains(_state.position) {
            _state.epoch += 1
            _state.position = 0
            makePlan()
        }
        let epoch = _state.epoch
        let rows = plan[_state.position].map { $0.map { dataset.examples[$0] } }
        _state.position += 1
        if dataset.options.packing {
            return (TrainingBatch(packing: rows, length: dataset.options.maxSequenceLength, padID: padID), epoch)
        }
        if paddingFree {
            let examples = rows.map { $0[0] }
            return (TrainingBatch(packing: [examples], length: examples.reduce(0) { $0 + $1.count }, padID: padID), epoch)
        }
        return (TrainingBatch(padding: rows.map { $0[0] }, padID: padID), epoch)
    }

    /// The batches of one epoch in order, from the current position (for evaluation passes).
    public mutating func remainingBatchesOfEpoch() -> [TrainingBatch] {
        let epoch = _state.epoch
        var out: [TrainingBatch] = []
        while _state.epoch == epoch, (0..<plan.count).contains(_state.position) { out.append(next().batch) }
        return out
    }

    private mutating func makePlan() {
        plan = Self.epochPlan(dataset: dataset, batchSize: batchSize, seed: _state.seed ^ UInt64(truncatingIfNeeded: _state.epoch),
                              shuffle: shuffle, groupingWindow: groupingWindow,
                              tokenBudget: tokenBudget.map { ($0, paddingFree) })
    }

    /// One epoch's batches, each a list of rows, each row a list of example indices.
    /// `tokenBudget` is the budget and whether batches are padding-free (else padded).
    static func epochPlan(dataset: Dataset, batchSize: Int, seed: UInt64, shuffle: Bool, groupingWindow: Int,
                          tokenBudget: (tokens: Int, paddingFree: Bool)? = nil) -> [[[Int]]] {
        var random = ShuffleGenerator(seed: seed)
        var order = Array(dataset.examples.indices)
        if shuffle { random.shuffle(&order) }
        let lengths = dataset.examples.lengths
        if dataset.options.packing {
            let rows = FirstFitPacker.pack(lengths: lengths, order: order, capacity: dataset.options.maxSequenceLength)
            return chunks(rows, of: batchSize)
        }
        // Sort each window longest first (ties keep shuffled order), so a batch holds similar lengths.
        // With a budget, a window holds about `groupingWindow` batches of the mean length.
        var windowSize = batchSize * groupingWindow
        if let budget = tokenBudget {
            let mean = max(1, dataset.stats.tokens / max(1, dataset.examples.count))
            windowSize = max(1, budget.tokens / mean) * groupingWindow
        }
        var batches: [[[Int]]] = []
        for window in chunks(order, of: windowSize) {
            let sorted = window.enumerated().sorted {
                lengths[$0.element] != lengths[$1.element] ? lengths[$0.element] > lengths[$1.element] : $0.offset < $1.offset
            }.map(\.element)
            let cut = tokenBudget.map { budgetChunks(sorted, lengths: lengths, budget: $0.tokens, paddingFree: $0.paddingFree) }
                ?? chunks(sorted, of: batchSize)
            batches += cut.map { $0.map { [$0] } }
        }
        if shuffle { random.shuffle(&batches) }
        return batches
    }

    /// Consecutive runs of `items` whose tokens fit in `budget` (padding-free: the sum of their
    /// lengths; padded: their count × the longest); an item over the budget goes alone.
    static func budgetChunks(_ items: [Int], lengths: [Int], budget: Int, paddingFree: Bool) -> [[Int]] {
        var out: [[Int]] = [], current: [Int] = []
        var sum = 0, longest = 0
        for i in items {
            let n = lengths[i]
            let cost = paddingFree ? sum + n : (current.count + 1) * max(longest, n)
            if !current.isEmpty && cost > budget {
                out.append(current)
                (current, sum, longest) = ([], 0, 0)
            }
            current.append(i)
            sum += n
            longest = max(longest, n)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    static func chunks<T>(_ items: [T], of size: Int) -> [[T]] {
        stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }
}

/// Fisher–Yates over TensorCore's SplitMix64, written out so an epoch's order depends only on
/// the seed, not on the standard library's shuffle algorithm (which may change between toolchains).
struct ShuffleGenerator {
    private var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// Uniform in 0..<bound (multiply-high; the bias is below 2⁻³² for any data set size).
    mutating func below(_ bound: Int) -> Int {
        Int(generator.next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}
