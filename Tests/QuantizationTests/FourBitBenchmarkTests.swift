// Dequantization throughput of NF4 (GB/s of Float32 written), fast kernel against the
// reference twin. Runs only with LORIKEET_BENCH=1 (seconds of work; numbers go to stdout).
import Foundation
import XCTest
import TensorCore
@testable import Quantization

final class FourBitBenchmarkTests: XCTestCase {
    func testDequantizeThroughput() throws {
        guard ProcessInfo.processInfo.environment["LORIKEET_BENCH"] == "1" else {
            throw XCTSkip("set LORIKEET_BENCH=1 to measure")
        }
        for (rows, cols) in [(576, 1536), (4096, 11008)] {
            let n = rows * cols
            let x = (0..<n).map { Float(sin(Double($0) * 0.001)) }
            for dq in [false, true] {
                let source = try Tensor(shape: [rows, cols], values: x)
                let q0 = DispatchTime.now().uptimeNanoseconds
                let m = try FourBitMatrix(quantizing: source, type: .nf4, doubleQuant: dq)
                let quantizeTime = Double(DispatchTime.now().uptimeNanoseconds - q0) / 1e9
                var out = [Float](repeating: 0, count: n)
                let reps = n > 1_000_000 ? 5 : 50
                var best = Double.infinity
                for _ in 0..<reps {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    out.withUnsafeMutableBufferPointer { m.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                let absmax = m.absmax.values
                let t0 = DispatchTime.now().uptimeNanoseconds
                let ref = FourBitReference.dequantize(m.codes, absmax: absmax, count: n, type: .nf4, blockSize: 64)
                let refTime = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                XCTAssertEqual(ref.count, n)
                XCTAssertEqual(out[n / 3].bitPattern, ref[n / 3].bitPattern)
                let gb = Double(4 * n) / 1e9
                print(String(format: "NF4 dequantize %dx%d dq=%@: fast %.3f ms = %.2f GB/s (%d threads), reference %.1f ms = %.3f GB/s; quantize %.1f ms",
                             rows, cols, dq ? "yes" : "no", best * 1e3, gb / best, Parallel.threadCount, refTime * 1e3, gb / refTime, quantizeTime * 1e3))
            }
        }
    }
}
