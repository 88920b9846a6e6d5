// Shared test helpers: closeness assertions and random tensors with fixed seeds.
import XCTest
import TensorCore

/// Asserts |a − b| ≤ atol + rtol·max(|a|, |b|) element-wise, reporting the worst element.
public func assertClose(_ a: [Float], _ b: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "count differs \(message)", file: file, line: line)
    guard a.count == b.count else { return }
    var worst = -1
    var worstExcess: Float = 0
    for i in a.indices {
        let tol = atol + rtol * max(abs(a[i]), abs(b[i]))
        let diff = abs(a[i] - b[i])
        if !(diff <= tol) && (worst < 0 || diff - tol > worstExcess || diff.isNaN) {
            worst = i
            worstExcess = diff - tol
        }
    }
    if worst >= 0 {
        XCTFail("not close at \(worst): \(a[worst]) vs \(b[worst]) (rtol \(rtol), atol \(atol)) \(message)", file: file, line: line)
    }
}

/// A reproducible normal tensor.
public func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: std, using: &g)
}
