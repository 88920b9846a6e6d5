// Tape semantics: frozen tensors get no gradient, parameter gradients accumulate until
// zeroed, tied parameters sum both uses, and bad shapes throw typed errors naming them.
import XCTest
@testable import TensorCore
import TestSupport

final class AutodiffTests: XCTestCase {
    func testFrozenWeightGetsNoGradientAndTrainableDoes() throws {
        let frozen = Parameter(name: "frozen", value: randn([4, 3], seed: 1), requiresGrad: false)
        let trained = Parameter(name: "trained", value: randn([2, 4], seed: 2))
        let tape = Tape()
        let x = tape.input(randn([5, 3], seed: 3))
        let h = try tape.linear(x, weight: tape.parameter(frozen))
        XCTAssertFalse(tape.needsGradient(h), "a frozen path must not record")
        let y = try tape.linear(h, weight: tape.parameter(trained))
        try tape.backward(tape.sum(y))
        XCTAssertNil(frozen.grad)
        XCTAssertEqual(trained.grad?.shape, [2, 4])
    }

    func testKeepOnlyFreesTheRestAndKeepsTheValue() throws {
        let w = Parameter(name: "w", value: randn([512, 512], seed: 40), requiresGrad: false)
        let tape = Tape(recordsGradients: false)
        var x = tape.input(randn([256, 512], seed: 41))
        let h = try tape.linear(x, weight: tape.parameter(w))
        let expected = tape.value(h).floats
        let heldBefore = BlockCache.shared.heldBytes
        x = tape.keepOnly(h)
        XCTAssertEqual(tape.nodes.count, 1, "only the kept value stays on the tape")
        XCTAssertEqual(tape.value(x).floats, expected)
        XCTAssertGreaterThanOrEqual(BlockCache.shared.heldBytes, heldBefore + 256 * 512 * 4,
                                    "the input's buffer goes back to the block cache")
        // The kept value works as the next layer's input.
        let y = try tape.linear(x, weight: tape.parameter(w))
        XCTAssertEqual(tape.value(y).shape, [256, 512])
    }

    func testGradientsAccumulateAcrossCallsUntilZeroed() throws {
        let w = Parameter(name: "w", value: randn([3, 2], seed: 4))
        let x = randn([4, 2], seed: 5)
        func run() throws {
            let tape = Tape()
            try tape.backward(tape.sum(try tape.linear(tape.input(x), weight: tape.parameter(w))))
        }
        try run()
        let once = w.grad!.floats
        try run()
        assertClose(w.grad!.floats, once.map { 2 * $0 })
        w.zeroGrad()
        try run()
        XCTAssertEqual(w.grad!.floats, once)
    }

    func testTiedParameterSumsBothUses() throws {
        let table = Parameter(name: "embed", value: randn([5, 4], seed: 6))
        let tape = Tape()
        let e = try tape.embedding(tape.parameter(table), ids: [1, 3])
        let logits = try tape.linear(e, weight: tape.parameter(table))
        try tape.backward(try tape.crossEntropy(logits, targets: [3, 1]))
        // Same computation with two separate copies, summed by hand.
        let a = Parameter(name: "a", value: table.value), b = Parameter(name: "b", value: table.value)
        let t2 = Tape()
        let e2 = try t2.embedding(t2.parameter(a), ids: [1, 3])
        try t2.backward(try t2.crossEntropy(try t2.linear(e2, weight: t2.parameter(b)), targets: [3, 1]))
        assertClose(table.grad!.floats, zip(a.grad!.floats, b.grad!.floats).map { $0 + $1 }, rtol: 1e-5, atol: 1e-7)
    }

    func testNarrowFrozenWeightIsWidenedForProductAndInputGradient() throws {
        let w = randn([6, 5], seed: 7)
        for dtype in [DType.bf16, .f16] {
            let narrow = w.narrowed(to: dtype)
            let widened = narrow.widened()
            let frozen = Parameter(name: "w", value: narrow, requiresGrad: false)
            let tape = Tape()
            let x = tape.input(randn([3, 5], seed: 8), requiresGrad: true)
            let y = try tape.linear(x, weight: tape.parameter(frozen))
            try tape.backward(tape.sum(y))
            let ref = Tape()
            let xr = ref.input(randn([3, 5], seed: 8), requiresGrad: true)
            let yr = try ref.linear(xr, weight: ref.input(widened))
            try ref.backward(ref.sum(yr))
            XCTAssertEqual(tape.value(y).floats, ref.value(yr).floats)
            XCTAssertEqual(tape.gradient(x)!.floats, ref.gradient(xr)!.floats)
        }
    }

    func testBigNarrowWeightsAreWidenedInRowSlabs() throws {
        // 37 rows of 11 with at most 50 elements per slab: slabs of 4 rows, the last one short.
        let w = randn([37, 11], seed: 21).narrowed(to: .bf16)
        let a = randn([3, 11], seed: 22), b = randn([37, 3], seed: 23)
        let targets: [Int32] = [4, -100, 36, 0, 17]
        func run(slab: Int?) throws -> [[Float]] {
            let tape = Tape()
            if let slab { tape.widenSlabElements = slab }
            let frozen = tape.parameter(Parameter(name: "w", value: w, requiresGrad: false))
            let x = tape.input(randn([5, 11], seed: 24), requiresGrad: true)
            let y1 = try tape.linear(x, weight: frozen)
            let y2 = try tape.loraLinear(x, weight: frozen, bias: nil, a: tape.input(a, requiresGrad: true),
                                         b: tape.input(b, requiresGrad: true), scale: 2, dropout: 0.25, seed: 5)
            let h = try tape.mul(x, x)
            let ce = try tape.linearCrossEntropy(h, weight: frozen, targets: targets, chunkRows: 2)
            let loss = try tape.add(try tape.add(try tape.sum(try tape.mul(y1, y2)), ce), try tape.sum(y2))
            let values = [tape.value(y1).floats, tape.value(y2).floats, [tape.value(ce).scalar]]
            try tape.backward(loss)
            return values + [tape.gradient(x)!.floats]
        }
        let whole = try run(slab: nil), slabs = try run(slab: 50)
        for (name, (s, r)) in zip(["linear", "loraLinear", "linearCrossEntropy", "dx"], zip(slabs, whole)) {
            let scale = r.map(abs).max()!
            for (u, v) in zip(s, r) { XCTAssertEqual(u, v, accuracy: 1e-5 * scale, name) }
        }
    }

    func testShapeMismatchNamesBothShapes() throws {
        let tape = Tape()
        let a = tape.input(Tensor(zeros: [2, 3])), b = tape.input(Tensor(zeros: [3, 2]))
        XCTAssertThrowsError(try tape.add(a, b)) { error in
            XCTAssertEqual(error as? TensorError, .shapeMismatch(op: "add", lhs: [2, 3], rhs: [3, 2]))
            XCTAssertTrue("\(error)".contains("[2, 3]") && "\(error)".contains("[3, 2]"))
        }
        XCTAssertThrowsError(try tape.linear(a, weight: tape.input(Tensor(zeros: [4, 5])))) { error in
            XCTAssertEqual(error as? TensorError, .shapeMismatch(op: "linear", lhs: [2, 3], rhs: [4, 5]))
        }
        XCTAssertThrowsError(try Tensor.matmul(Tensor(zeros: [2, 3]), Tensor(zeros: [2, 3]))) { error in
            XCTAssertEqual(error as? TensorError, .shapeMismatch(op: "matmul", lhs: [2, 3], rhs: [2, 3]))
        }
        XCTAssertThrowsError(try tape.crossEntropy(tape.input(Tensor(zeros: [2, 4])), targets: [0, 4])) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(op: "crossEntropy target", index: 4, bound: 4))
        }
        XCTAssertThrowsError(try tape.embedding(tape.input(Tensor(zeros: [3, 2])), ids: [5])) { error in
            XCTAssertEqual(error as? TensorError, .indexOutOfRange(op: "embedding", index: 5, bound: 3))
        }
        XCTAssertThrowsError(try Tensor(shape: [2, 2], values: [1, 2, 3]))
        XCTAssertThrowsError(try Tensor(zeros: [6]).reshaped([4, 2]))
    }

    func testBackwardNeedsScalarLoss() {
        let tape = Tape()
        let x = tape.input(Tensor(zeros: [3]), requiresGrad: true)
        XCTAssertThrowsError(try tape.backward(tape.scale(x, by: 2)))
    }
}
