// AdamW whose moments live in a memory-mapped file instead of anonymous memory: after each
// parameter's update its pages are dropped from the process (they stay in the page cache and
// reach the file under memory pressure), so the state does not count in resident memory and
// the OS can page it out — our CPU counterpart of bitsandbytes' paged optimizers. The
// arithmetic is AdamW's, so results are identical to the in-memory optimizer.
import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// AdamW with 32-bit moments in a memory-mapped file.
public final class DiskBackedAdamW: Optimizer {
    public var config: AdamWConfig
    public private(set) var stepCount = 0
    /// The backing file (unlinked as soon as it is open: nothing is left behind).
    public let path: String
    private let fd: Int32
    private var base: UnsafeMutableRawPointer?
    private var mappedBytes = 0
    /// Byte offset of each parameter's m (v follows it).
    private var offsets: [String: Int] = [:]
    private var used = 0

    /// Creates the backing file in `directory`.
    public init(config: AdamWConfig = AdamWConfig(), directory: URL) throws {
        self.config = config
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent(".optimizer-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw TrainingError.invalidSetting(key: "optimizer-state-on-disk", source: nil, reason: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        unlink(path)
    }

    deinit {
        if let base { munmap(base, mappedBytes) }
        close(fd)
    }

    /// Makes room for `parameters`' moments (zero-initialised), growing the file and mapping.
    private func reserve(_ parameters: [Parameter]) throws {
        var need = used
        var fresh: [(String, Int)] = []
        for p in parameters where offsets[p.name] == nil {
            fresh.append((p.name, need))
            need += 2 * p.value.count * 4
        }
        guard !fresh.isEmpty else { return }
        let size = (need + 4095) & ~4095
        if size > mappedBytes {
            if let base { munmap(base, mappedBytes) }
            guard ftruncate(fd, off_t(size)) == 0 else {
                throw TrainingError.invalidSetting(key: "optimizer-state-on-disk", source: nil, reason: "cannot grow the state file to \(size) bytes: \(String(cString: strerror(errno)))")
            }
            let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            guard let p, p != MAP_FAILED else {
                throw TrainingError.invalidSetting(key: "optimizer-state-on-disk", source: nil, reason: "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
            }
            base = p
            mappedBytes = size
        }
        for (name, offset) in fresh { offsets[name] = offset }
        used = need
    }

    private func moments(_ p: Parameter) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let m = (base! + offsets[p.name]!).assumingMemoryBound(to: Float.self)
        return (m, m + p.value.count)
    }

    /// Drops the pages of `p`'s moments from this process (their data stays in the file).
    private func release(_ p: Parameter) {
        let start = offsets[p.name]!, end = start + 2 * p.value.count * 4
        let first = (start + 4095) & ~4095, last = end & ~4095
        if last > first { madvise(base! + first, last - first, MADV_DONTNEED) }
    }

    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        let active = parameters.filter { $0.requiresGrad && $0.grad != nil }
        // A failure to grow the file is a disk problem the run cannot continue past.
        do { try reserve(active) } catch { preconditionFailure("\(error)") }
        stepCount += 1
        for p in active {
            let (m, v) = moments(p)
            let n = p.value.count
            p.value.withUnsafeMutableFloats { w in p.grad!.withUnsafeFloats { g in
                UpdateKernels.adamw(weights: w.baseAddress!, gradients: g.baseAddress!, m: m, v: v, count: n,
                                    learningRate: lr, config: config, step: stepCount)
            } }
            release(p)
        }
    }

    /// Moments as `m.<name>` / `v.<name>`, like the in-memory AdamW (checkpoints interchange):
    /// zero-copy views of the mapping, valid while this optimizer lives.
    public func stateTensors(for parameters: [Parameter]) -> [(String, Tensor)] {
        parameters.filter { offsets[$0.name] != nil }.flatMap { p -> [(String, Tensor)] in
            let (m, v) = moments(p)
            return [("m." + p.name, Tensor(borrowing: m, shape: p.value.shape, dtype: .f32, owner: self)),
                    ("v." + p.name, Tensor(borrowing: v, shape: p.value.shape, dtype: .f32, owner: self))]
        }
    }

    public func restore(stepCount: Int, tensors: [String: Tensor], for parameters: [Parameter]) throws {
        self.stepCount = stepCount
        let saved = parameters.filter { tensors["m." + $0.name] != nil }
        try reserve(saved)
        for p in saved {
            guard let mt = tensors["m." + p.name], let vt = tensors["v." + p.name],
                  mt.count == p.value.count, vt.count == p.value.count else {
                throw TensorError.invalidShape(op: "AdamW state of \(p.name)", shape: tensors["m." + p.name]?.shape ?? [],
                                               expected: "\(p.value.shape) for m and v")
            }
            let (m, v) = moments(p)
            mt.widened().withUnsafeFloats { m.update(from: $0.baseAddress!, count: p.value.count) }
            vt.widened().withUnsafeFloats { v.update(from: $0.baseAddress!, count: p.value.count) }
            release(p)
        }
    }
}
