// Batches of seeded random tokens (next-token targets, the last position of each row not
// counted): a stand-in dataset for measuring training speed on any model shape.
import Foundation
import TensorCore

/// The same batch of `batchSize` rows of `length` random tokens, forever.
public struct RandomTokenBatches: BatchStream, Sendable {
    let batch: TrainingBatch
    var served = 0

    /// Draws the tokens from `vocabularySize` with `seed`.
    public init(batchSize: Int, length: Int, vocabularySize: Int, seed: UInt64 = 1) {
        var g = SeededGenerator(seed: seed)
        let n = batchSize * length
        let ids = (0..<n).map { _ in Int32(g.next() % UInt64(vocabularySize)) }
        let targets = (0..<n).map { i in (i + 1) % length == 0 ? TrainingBatch.ignoredTarget : ids[i + 1] }
        batch = TrainingBatch(inputIDs: ids, targets: targets, batchSize: batchSize, length: length, tokenCount: n)
    }

    /// One batch is one epoch.
    public var batchesPerEpoch: Int { 1 }

    /// The batch again; the epoch counts the batches served.
    public mutating func next() -> (batch: TrainingBatch, epoch: Int) {
        served += 1
        return (batch, served - 1)
    }

    /// The number of batches served.
    public var cursor: Data { Data(String(served).utf8) }

    /// Continues from a saved count.
    public mutating func restore(_ cursor: Data) throws {
        guard let n = Int(String(decoding: cursor, as: UTF8.self)) else {
            throw TrainingError.invalidCheckpoint(path: "trainer_state.json", reason: "data_cursor is not a random-batch count")
        }
        served = n
    }
}
