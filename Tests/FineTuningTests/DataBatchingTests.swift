// Batches: padding never counts, packed rows keep examples apart (segments, positions, no
// target across a boundary), truncation is counted, shuffling is seeded per epoch, and a saved
// iterator state resumes the identical batch sequence; padding-free batches are the padded
// batches' examples back to back, with the same loss and gradients on a small random model;
// token budgets bound each batch. Handmade examples.
import XCTest
import Foundation
@testable import FineTuning
import Llama
import TensorCore
import TestSupport

final class DataBatchingTests: XCTestCase {
    private func dataset(_ lengths: [Int], maxLength: Int = 64, packing: Bool = false) throws -> Dataset {
        let examples = lengths.enumerated().map { DataTestSupport.example(length: $1, base: 1000 * ($0 + 1)) }
        return try Dataset(examples: examples, options: DatasetOptions(maxSequenceLength: maxLength, packing: packing))
    }

    /// The example ids (token / 1000 − 1) in each row of a batch, padding (id 0) left out.
    private func rowExamples(_ b: TrainingBatch) -> [[Int]] {
        (0..<b.batchSize).map { r in
            var seen: [Int] = []
            for t in b.inputIDs[(r * b.length)..<((r + 1) * b.length)] where t != 0 {
                let id = Int(t) / 1000 - 1
                if seen.last != id { seen.append(id) }
            }
            return seen
        }
    }

    func testPaddedBatchTargetsAreNextTokensAndPaddingNeverCounts() {
        let a = TokenizedExample(tokens: [10, 11, 12, 13, 14], targetMask: [false, false, true, true, true])
        let b = TokenizedExample(tokens: [20, 21, 22], targetMask: [false, true, true])
        let batch = TrainingBatch(padding: [a, b], padID: 7)
        XCTAssertEqual(batch.batchSize, 2)
        XCTAssertEqual(batch.length, 5)
        XCTAssertEqual(batch.inputIDs, [10, 11, 12, 13, 14, 20, 21, 22, 7, 7])
        XCTAssertEqual(batch.targets, [-100, 12, 13, 14, -100, 21, 22, -100, -100, -100])
        XCTAssertEqual(batch.targetTokenCount, 5)
        XCTAssertEqual(batch.tokenCount, 8)
        XCTAssertNil(batch.positions)
        XCTAssertNil(batch.segments)
    }

    func testPackedRowsRestartPositionsAndSeparateSegments() {
        let a = TokenizedExample(tokens: [10, 11, 12], targetMask: [false, true, true])
        let b = TokenizedExample(tokens: [20, 21], targetMask: [false, true])
        let c = TokenizedExample(tokens: [30, 31, 32, 33], targetMask: [false, false, true, true])
        let batch = TrainingBatch(packing: [[a, b], [c]], length: 6, padID: 0)
        XCTAssertEqual(batch.length, 6)
        XCTAssertEqual(batch.inputIDs, [10, 11, 12, 20, 21, 0, 30, 31, 32, 33, 0, 0])
        // No target crosses from a's last token to b's first.
        XCTAssertEqual(batch.targets, [11, 12, -100, 21, -100, -100, -100, 32, 33, -100, -100, -100])
        XCTAssertEqual(batch.positions, [0, 1, 2, 0, 1, 0, 0, 1, 2, 3, 0, 1])
        XCTAssertEqual(batch.segments, [0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1, 1])
        XCTAssertEqual(batch.tokenCount, 9)
        XCTAssertEqual(batch.targetTokenCount, 5)
    }

    func testFirstFitPacksInOrderIntoTheFirstRowWithRoom() {
        XCTAssertEqual(FirstFitPacker.pack(lengths: [6, 5, 3, 2, 4, 8, 1], order: [0, 1, 2, 3, 4, 5, 6], capacity: 8),
                       [[0, 3], [1, 2], [4, 6], [5]])
        XCTAssertEqual(FirstFitPacker.pack(lengths: [6, 5, 3], order: [2, 1, 0], capacity: 8), [[2, 1], [0]])
    }

    func testPackingEpochHoldsEveryExampleOnceInFullRows() throws {
        let lengths = [5, 9, 3, 12, 7, 2, 16, 4, 8, 6, 11, 2]
        let data = try dataset(lengths, maxLength: 16, packing: true)
        var it = try BatchIterator(dataset: data, batchSize: 2, seed: 7)
        var seen: [Int] = []
        for _ in 0..<it.batchesPerEpoch {
            let (b, epoch) = it.next()
            XCTAssertEqual(epoch, 0)
            XCTAssertEqual(b.length, 16)
            let segments = try XCTUnwrap(b.segments), positions = try XCTUnwrap(b.positions)
            for (r, row) in rowExamples(b).enumerated() {
                seen += row
                // Each example's tokens sit in one segment with positions 0..<length.
                for (s, id) in row.enumerated() {
                    let cells = (r * 16..<(r + 1) * 16).filter { Int(b.inputIDs[$0]) / 1000 - 1 == id }
                    XCTAssertEqual(cells.map { positions[$0] }, (0..<Int32(lengths[id])).map { $0 })
                    XCTAssertEqual(Set(cells.map { segments[$0] }), [Int32(s)])
                }
            }
            for i in b.inputIDs.indices where b.inputIDs[i] == 0 { XCTAssertEqual(b.targets[i], -100) }
        }
        XCTAssertEqual(seen.sorted(), Array(lengths.indices))
        XCTAssertEqual(it.next().epoch, 1)
    }

    func testTruncationIsCountedAndPromptOnlyExamplesAreDropped() throws {
        let examples = [
            DataTestSupport.example(length: 10, firstTarget: 3),   // cut to 6, keeps 3 targets
            DataTestSupport.example(length: 4, firstTarget: 1),    // untouched
            DataTestSupport.example(length: 9, firstTarget: 7),    // cut to 6: no target left
        ]
        let data = try Dataset(examples: examples, options: DatasetOptions(maxSequenceLength: 6))
        XCTAssertEqual(data.stats.examples, 2)
        XCTAssertEqual(data.stats.truncated, 2)
        XCTAssertEqual(data.stats.droppedWithoutTargets, 1)
        XCTAssertEqual(data.stats.tokens, 10)
        XCTAssertEqual(data.stats.targetTokens, 3 + 3)
        XCTAssertEqual(data.stats.longest, 6)
        XCTAssertEqual(data.stats.longestBeforeTruncation, 10)
        XCTAssertEqual(data.examples.map(\.count), [6, 4])

        let text = "{\"text\": \"abcdefghij\"}\n{\"prompt\": \"abcdefgh\", \"completion\": \"xy\"}\n{\"text\": \"abc\"}\n"
        let loaded = try Dataset(jsonl: text, source: "t.jsonl", encoder: .characters(), options: DatasetOptions(maxSequenceLength: 8))
        XCTAssertEqual(loaded.stats.truncated, 2)              // 11 tokens with EOS, and 8 + 2 + EOS
        XCTAssertEqual(loaded.stats.droppedWithoutTargets, 1)  // the prompt fills all 8 tokens
        XCTAssertEqual(loaded.examples.map(\.count), [8, 4])
    }

    func testPaddedEpochsAreSeededCompleteAndKeepTheLastPartialBatch() throws {
        let data = try dataset((0..<10).map { 3 + ($0 * 7) % 11 })
        func epochs(_ seed: UInt64, _ n: Int) throws -> [[Int]] {
            var it = try BatchIterator(dataset: data, batchSize: 3, seed: seed, groupingWindow: 1)
            return (0..<n).map { _ in rowExamples(it.next().batch).flatMap { $0 } }
        }
        let a = try epochs(42, 12), b = try epochs(42, 12), c = try epochs(43, 12)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        // 10 examples in batches of 3: four batches per epoch, the partial one kept.
        for e in 0..<3 {
            let epoch = Array(a[(4 * e)..<(4 * e + 4)])
            XCTAssertEqual(epoch.flatMap { $0 }.sorted(), Array(0..<10))
            XCTAssertEqual(epoch.map(\.count).sorted(), [1, 3, 3, 3])
        }
        XCTAssertNotEqual(Array(a[0..<4]), Array(a[4..<8]), "epoch 1 must be reshuffled (seed ⊕ 1)")
    }

    func testLengthGroupingPutsSimilarLengthsTogether() throws {
        let lengths = (0..<40).map { 2 + ($0 * 13) % 37 }
        let data = try dataset(lengths)
        var it = try BatchIterator(dataset: data, batchSize: 4, seed: 1, groupingWindow: 10)
        var padding = 0
        for _ in 0..<it.batchesPerEpoch {
            let b = it.next().batch
            padding += b.batchSize * b.length - b.tokenCount
        }
        // One window covers the epoch: batches are consecutive runs of the sorted lengths.
        let sorted = lengths.sorted(by: >)
        let best = stride(from: 0, to: 40, by: 4).reduce(0) { acc, i in acc + sorted[i..<i + 4].reduce(0) { $0 + sorted[i] - $1 } }
        XCTAssertEqual(padding, best)
    }

    func testSavedStateResumesTheIdenticalBatchSequence() throws {
        for packing in [false, true] {
            let data = try dataset((0..<13).map { 2 + ($0 * 5) % 9 }, maxLength: 12, packing: packing)
            var original = try BatchIterator(dataset: data, batchSize: 2, seed: 99)
            for _ in 0..<9 { _ = original.next() }  // past the end of epoch 0
            let saved = try JSONEncoder().encode(original.state)
            let state = try JSONDecoder().decode(BatchIteratorState.self, from: saved)
            var resumed = try BatchIterator(dataset: data, batchSize: 2, state: state)
            var viaSetter = try BatchIterator(dataset: data, batchSize: 2, seed: 5)
            viaSetter.state = state
            for step in 0..<20 {
                let (want, wantEpoch) = original.next()
                for (got, gotEpoch) in [resumed.next(), viaSetter.next()] {
                    XCTAssertEqual(gotEpoch, wantEpoch, "packing \(packing) step \(step)")
                    XCTAssertEqual(got.inputIDs, want.inputIDs, "packing \(packing) step \(step)")
                    XCTAssertEqual(got.targets, want.targets)
                    XCTAssertEqual(got.segments, want.segments)
                    XCTAssertEqual(got.positions, want.positions)
                }
            }
            XCTAssertEqual(resumed.state, original.state)
        }
    }

    func testEvaluationBatchesCoverEveryExampleOnceInFileOrderWindows() throws {
        let data = try dataset([4, 9, 2, 7, 5])
        let batches = try data.evaluationBatches(batchSize: 2)
        XCTAssertEqual(batches.count, 3)
        XCTAssertEqual(batches.flatMap { rowExamples($0).flatMap { $0 } }.sorted(), [0, 1, 2, 3, 4])
        XCTAssertEqual(batches.reduce(0) { $0 + $1.targetTokenCount }, data.stats.targetTokens)
    }

    func testPaddingFreeBatchesHoldThePaddedBatchesExamplesBackToBack() throws {
        let data = try dataset((0..<11).map { 2 + ($0 * 7) % 13 })
        var padded = try BatchIterator(dataset: data, batchSize: 3, seed: 8)
        var flat = try BatchIterator(dataset: data, batchSize: 3, seed: 8, paddingFree: true)
        XCTAssertEqual(flat.batchesPerEpoch, padded.batchesPerEpoch)
        for _ in 0..<(2 * padded.batchesPerEpoch) {
            let (p, f) = (padded.next().batch, flat.next().batch)
            XCTAssertEqual(f.batchSize, 1)
            XCTAssertEqual(f.length, p.tokenCount, "no padding")
            XCTAssertEqual(f.tokenCount, p.tokenCount)
            XCTAssertEqual(f.targetTokenCount, p.targetTokenCount)
            XCTAssertEqual(rowExamples(f), [rowExamples(p).flatMap { $0 }])
            // Row by row, the padded batch's real tokens and targets, in order.
            var ids: [Int32] = [], targets: [Int32] = [], positions: [Int32] = [], segments: [Int32] = []
            for r in 0..<p.batchSize {
                let row = (r * p.length)..<((r + 1) * p.length)
                let real = p.inputIDs[row].prefix { $0 != 0 }
                ids += real
                targets += p.targets[row].prefix(real.count)
                positions += (0..<real.count).map { Int32($0) }
                segments += Array(repeating: Int32(r), count: real.count)
            }
            XCTAssertEqual(f.inputIDs, ids)
            XCTAssertEqual(f.targets, targets)
            XCTAssertEqual(f.positions, positions)
            XCTAssertEqual(f.segments, segments)
        }
    }

    func testTokenBudgetBoundsEveryBatchAndCoversTheEpoch() throws {
        let lengths = (0..<40).map { 2 + ($0 * 13) % 37 }
        let data = try dataset(lengths)
        for paddingFree in [true, false] {
            var it = try BatchIterator(dataset: data, batchSize: 1, seed: 3, paddingFree: paddingFree, tokenBudget: 60)
            var seen: [Int] = []
            for _ in 0..<it.batchesPerEpoch {
                let b = it.next().batch
                let examples = rowExamples(b).flatMap { $0 }
                seen += examples
                let cost = paddingFree ? b.tokenCount : b.batchSize * b.length
                XCTAssertTrue(cost <= 60 || examples.count == 1, "padding-free \(paddingFree): \(cost) tokens in \(examples.count) examples")
                if paddingFree { XCTAssertEqual(b.batchSize, 1) }
            }
            XCTAssertEqual(seen.sorted(), Array(0..<40), "padding-free \(paddingFree)")
            XCTAssertLessThan(it.batchesPerEpoch, 40, "the budget takes several examples per batch")
        }
        XCTAssertThrowsError(try BatchIterator(dataset: data, batchSize: 1, tokenBudget: 0))
        XCTAssertThrowsError(try BatchIterator(dataset: try dataset([3, 4], packing: true), batchSize: 1, tokenBudget: 64))
    }

    func testPaddingFreeLossAndGradientsEqualPadded() throws {
        let config = LlamaConfiguration(vocabularySize: 5000, hiddenSize: 32, intermediateSize: 64, layerCount: 2,
                                        attentionHeads: 4, kvHeads: 2, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10_000,
                                        maxPositions: 256, tieWordEmbeddings: false, eosTokenIDs: [])
        let model = try LlamaModel.random(config, seed: 9, std: 0.1)
        // Token ids of example e are 1000·(e+1) + i: below the vocabulary for e < 4.
        let data = try dataset([7, 3, 12, 5])
        let padded = TrainingBatch(padding: Array(data.examples), padID: 0)
        var flat = try BatchIterator(dataset: data, batchSize: 4, shuffle: false, paddingFree: true)
        let free = flat.next().batch
        func lossAndGradients(_ b: TrainingBatch) throws -> (Float, [String: [Float]]) {
            for p in model.parameters.values { p.zeroGrad() }
            let tape = Tape()
            let l = try model.loss(tape, ids: b.inputIDs, targets: b.targets, batch: b.batchSize, length: b.length,
                                   options: ForwardOptions(segments: b.segments, positions: b.positions))
            let value = tape.value(l).floats[0]
            try tape.backward(l)
            return (value, model.parameters.compactMapValues { $0.grad?.floats })
        }
        let (lp, gp) = try lossAndGradients(padded)
        let (lf, gf) = try lossAndGradients(free)
        XCTAssertEqual(lf, lp, accuracy: 1e-5 * abs(lp))
        XCTAssertEqual(Set(gf.keys), Set(gp.keys))
        for (name, g) in gp { assertClose(gf[name]!, g, rtol: 1e-4, atol: 1e-6, name) }
    }
}
