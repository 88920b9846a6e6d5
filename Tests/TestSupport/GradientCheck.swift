// Central finite-difference gradient check for any tape computation.
// The check reduces the output to L = Σ out ⊙ R with a fixed random R, so every output
// element's gradient path is exercised, and compares dL/dx from backward with
// (L(x + h) − L(x − h)) / 2h. Forward runs in Float32, so with h = 1e-2 the difference
// quotient carries ~1e-7·|L|/h ≈ 1e-4 of rounding noise plus O(h²) truncation: a
// tolerance of atol 3e-3, rtol 3e-2 catches wrong rules (errors of O(1)) but not noise.
import XCTest
import TensorCore

public struct GradientCheck {
    public var step: Float = 1e-2
    public var rtol: Float = 3e-2
    public var atol: Float = 3e-3
    /// At most this many elements per input are perturbed (chosen evenly).
    public var maxElements = 60

    public init() {}

    /// Checks gradients of every input in `inputs` for the computation `body`, in every SIMD
    /// variant of the kernels this machine has.
    public func check(_ inputs: [Tensor], seed: UInt64 = 7, file: StaticString = #filePath, line: UInt = #line,
                      _ body: (Tape, [Var]) throws -> Var) throws {
        try forEachSIMDLevel { level in
            try check(inputs, seed: seed, variant: "\(level)", file: file, line: line, body)
        }
    }

    private func check(_ inputs: [Tensor], seed: UInt64, variant: String, file: StaticString, line: UInt,
                       _ body: (Tape, [Var]) throws -> Var) throws {
        // Analytic gradients.
        let tape = Tape()
        let vars = inputs.map { tape.input($0, requiresGrad: true) }
        let out = try body(tape, vars)
        let outShape = tape.value(out).shape
        let r = randn(outShape, seed: seed)
        try tape.backward(out, seed: r)
        let analytic = vars.map { tape.gradient($0)?.floats ?? [Float](repeating: 0, count: inputs[$0.id].count) }

        func loss(_ xs: [Tensor]) throws -> Double {
            let t = Tape(recordsGradients: false)
            let v = xs.map { t.input($0) }
            let o = t.value(try body(t, v)).floats
            let rv = r.floats
            var s = 0.0
            for i in o.indices { s += Double(o[i]) * Double(rv[i]) }
            return s
        }

        for (k, x) in inputs.enumerated() {
            let n = x.count
            let stride = max(1, n / maxElements)
            var numeric: [Float] = []
            var picked: [Float] = []
            var i = 0
            while i < n {
                var plus = inputs, minus = inputs
                plus[k] = x.copied(); minus[k] = x.copied()
                plus[k].withUnsafeMutableFloats { $0[i] += step }
                minus[k].withUnsafeMutableFloats { $0[i] -= step }
                let d = (try loss(plus) - loss(minus)) / Double(2 * step)
                numeric.append(Float(d))
                picked.append(analytic[k][i])
                i += stride
            }
            assertClose(picked, numeric, rtol: rtol, atol: atol, "gradient of input \(k) (\(variant) kernels)", file: file, line: line)
        }
    }
}
