// Splitting block-wise work across cores. TensorCore's own splitter is internal to that
// module, so this is a small copy of the same rule: one thread below ~64 K elements (where
// concurrentPerform does not pay off on this machine), else one contiguous chunk per thread.
import Dispatch
import TensorCore

enum BlockParallel {
    /// Elements below which work stays on the calling thread.
    static let minimumParallelElements = 65_536

    /// Runs `body` over `0..<count` items (blocks), split into contiguous ranges when the
    /// total number of `elements` produced is large enough to pay for the threads.
    static func forRanges(_ count: Int, elements: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(Parallel.threadCount, count)
        if threads <= 1 || elements < minimumParallelElements {
            if count > 0 { body(0..<count) }
            return
        }
        let chunk = (count + threads - 1) / threads
        withoutActuallyEscaping(body) { body in
            let box = SendableBox(body)
            DispatchQueue.concurrentPerform(iterations: threads) { i in
                let lo = i * chunk
                let hi = min(count, lo + chunk)
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}

/// Carries a closure over disjoint output ranges into concurrentPerform.
struct SendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
