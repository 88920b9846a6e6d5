// End-to-end engine check: a 2-layer Llama-shaped network of width 64 overfits one batch
// with AdamW (loss falls by more than 90 % in 200 steps), with and without checkpointing.
import XCTest
import TensorCore
import FineTuning
import TestSupport

final class TinyModelTests: XCTestCase {
    func batch() -> (ids: [Int32], targets: [Int32]) {
        var g = SeededGenerator(seed: 42)
        let tokens = (0..<(2 * 17)).map { _ in Int32(g.next() % 64) }
        var ids: [Int32] = [], targets: [Int32] = []
        for b in 0..<2 {
            let row = Array(tokens[(b * 17)..<(b * 17 + 17)])
            ids += row.dropLast()
            targets += row.dropFirst()
        }
        return (ids, targets)
    }

    func testOverfitsOneBatch() throws {
        let model = TinyLlama()
        let (ids, targets) = batch()
        let opt = AdamW(config: AdamWConfig(weightDecay: 0))
        var first: Float = 0, last: Float = 0
        for step in 0..<200 {
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: targets, batch: 2, length: 16)
            let value = tape.value(loss).scalar
            if step == 0 { first = value }
            last = value
            try tape.backward(loss)
            clipGradientNorm(model.parameters, maxNorm: 1)
            opt.step(model.parameters, learningRate: 3e-3)
            model.parameters.forEach { $0.zeroGrad() }
        }
        XCTAssertGreaterThan(first, 3.5, "starts near ln(64) ≈ 4.16")
        XCTAssertLessThan(last, 0.1 * first, "loss \(first) → \(last) did not fall by 90 %")
    }

    func testCheckpointedModelGivesSameGradients() throws {
        let (ids, targets) = batch()
        var results: [[Float]] = []
        for useCheckpoint in [false, true] {
            let model = TinyLlama(seed: 3)
            let tape = Tape()
            let loss = try model.loss(tape, ids: ids, targets: targets, batch: 2, length: 16, checkpoint: useCheckpoint)
            try tape.backward(loss)
            results.append(model.parameters.flatMap { $0.grad!.floats })
        }
        XCTAssertEqual(results[0], results[1])
    }

    func testSGDAndClipping() throws {
        let p = Parameter(name: "p", value: try Tensor(shape: [2], values: [1, 2]))
        p.grad = try Tensor(shape: [2], values: [3, 4])
        let norm = clipGradientNorm([p], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        assertClose(p.grad!.floats, [0.6, 0.8], rtol: 1e-5)
        let sgd = SGD(momentum: 0.9)
        sgd.step([p], learningRate: 0.1)
        assertClose(p.value.floats, [0.94, 1.92], rtol: 1e-6)
        sgd.step([p], learningRate: 0.1)  // buf = 0.9·g + g = 1.9·g
        assertClose(p.value.floats, [0.94 - 0.114, 1.92 - 0.152], rtol: 1e-5)
    }

    func testSGDStateRoundTripsThroughACheckpoint() throws {
        let p = Parameter(name: "p", value: try Tensor(shape: [3], values: [1, 2, 3]))
        let sgd = SGD(momentum: 0.9, weightDecay: 0.01)
        p.grad = try Tensor(shape: [3], values: [0.5, -1, 2])
        sgd.step([p], learningRate: 0.1)
        let restored = SGD(momentum: 0.9, weightDecay: 0.01)
        try restored.restore(stepCount: sgd.stepCount, tensors: Dictionary(uniqueKeysWithValues: sgd.stateTensors(for: [p])), for: [p])
        let q = Parameter(name: "p", value: p.value.copied())
        p.grad = try Tensor(shape: [3], values: [1, 1, -1])
        q.grad = p.grad
        sgd.step([p], learningRate: 0.1)
        restored.step([q], learningRate: 0.1)
        XCTAssertEqual(p.value.floats, q.value.floats, "the momentum buffer must survive the round trip")
        XCTAssertEqual(restored.stepCount, 2)
        let wrong = [("momentum.p", Tensor(zeros: [2]))]
        XCTAssertThrowsError(try SGD(momentum: 0.9).restore(stepCount: 1, tensors: Dictionary(uniqueKeysWithValues: wrong), for: [p]))
    }
}
