// Splitting non-BLAS kernels across cores: a chunk per thread, run by CKernels' pool of
// persistent workers (lk_parallel_for), which start a job within a microsecond of the last
// one (GCD's concurrentPerform woke its threads through the kernel each time: a quarter of
// decoding's CPU time). Below ~64 K elements one thread wins.
import Foundation
internal import CKernels
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
        var job = RangeJob(count: count, chunk: (count + threads - 1) / threads, body: { _ in })
        // Kernels hand in closures over raw pointers to disjoint ranges; the pool runs task i
        // on range i, so no two threads touch the same elements.
        withoutActuallyEscaping(body) { body in
            job.body = body
            withUnsafeMutablePointer(to: &job) { p in
                lk_parallel_for(Int32(threads), Int32(threads), { ctx, task in
                    let job = ctx!.assumingMemoryBound(to: RangeJob.self)
                    let lo = Int(task) * job.pointee.chunk
                    let hi = min(job.pointee.count, lo + job.pointee.chunk)
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, p)
            }
        }
    }
}

/// The ranges of one forRanges call, as its tasks see them.
private struct RangeJob {
    let count: Int, chunk: Int
    var body: (Range<Int>) -> Void
}

/// Carries a value into a `@Sendable` closure when the caller guarantees safe use.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
