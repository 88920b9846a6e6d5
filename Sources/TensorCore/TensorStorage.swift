// The bytes behind a tensor: either memory we own (64-byte aligned) or a read-only,
// zero-copy view into a memory-mapped file. Tensors share storage and copy on write.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file. Tensors that view it keep it alive.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Start of the mapping (nil for an empty file).
    public let base: UnsafeRawPointer?
    /// Length of the file in bytes.
    public let byteCount: Int

    /// Maps `path` read-only. Throws `TensorError.fileError` naming the path on failure.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TensorError.fileError(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TensorError.fileError(path: path, reason: "cannot stat (\(String(cString: strerror(errno))))")
        }
        byteCount = Int(st.st_size)
        if byteCount == 0 {
            base = nil
            return
        }
        let p = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw TensorError.fileError(path: path, reason: "cannot mmap \(byteCount) bytes (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(p)
    }

    /// The mapped bytes as a buffer.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

    /// Drops this process's resident pages of `range` (whole pages inside it only, so bytes of
    /// neighbouring data stay as they are): once a tensor has been read for the last time (a
    /// 16/32-bit weight re-encoded in 4 bits), its pages stop counting in RSS. Reading it again
    /// still works; the kernel fetches the pages from the file again.
    public func releasePages(_ range: Range<Int>) {
        guard let base, range.lowerBound >= 0, range.upperBound <= byteCount else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base.advanced(by: start)), end - start, MADV_DONTNEED)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }
}

/// Raw bytes shared by tensors. Owned storage is writable; mapped storage is not.
public final class TensorStorage: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// Keeps a mapped file (or another owner) alive while this storage views it.
    let owner: AnyObject?
    /// False for views into a file mapping: writing would fault, so tensors copy first.
    let isWritable: Bool

    /// Allocates `byteCount` zeroed, 64-byte aligned bytes.
    init(zeroedByteCount byteCount: Int) {
        base = BlockCache.shared.allocate(byteCount)
        memset(base, 0, max(byteCount, 1))
        self.byteCount = byteCount
        owner = nil
        isWritable = true
    }

    /// Allocates `byteCount` bytes without zeroing them (the caller fills them).
    init(uninitializedByteCount byteCount: Int) {
        base = BlockCache.shared.allocate(byteCount)
        self.byteCount = byteCount
        owner = nil
        isWritable = true
    }

    /// A view of `byteCount` bytes at `offset` inside a mapped file.
    init(mapped file: MappedFile, offset: Int, byteCount: Int) {
        precondition(offset >= 0 && offset + byteCount <= file.byteCount)
        base = UnsafeMutableRawPointer(mutating: file.base!.advanced(by: offset))
        self.byteCount = byteCount
        owner = file
        isWritable = false
    }

    /// A read-only view of `byteCount` bytes at `pointer`, kept valid by `owner`.
    init(borrowing pointer: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        base = UnsafeMutableRawPointer(mutating: pointer)
        self.byteCount = byteCount
        self.owner = owner
        isWritable = false
    }

    deinit {
        if owner == nil { BlockCache.shared.release(base, byteCount) }
    }
}

/// Keeps freed large blocks for reuse. A fresh large allocation is a new mapping whose
/// every page faults on first write (measured: 200 MB of logits cost ~15 % of the lm-head
/// product); a training step allocates the same sizes every step, so reuse avoids that.
/// Blocks of 256 KiB and more are cached, up to `limit`.
public final class BlockCache: @unchecked Sendable {
    /// The process-wide cache.
    public static let shared = BlockCache()
    private let lock = NSLock()
    /// Cached blocks, oldest release first (evicted first when room is needed).
    private var entries: [(size: Int, pointer: UnsafeMutableRawPointer)] = []
    private var cachedBytes = 0
    static let minimumCached = 256 << 10

    /// The most bytes of freed blocks kept: `LORIKEET_CACHE_MB` MiB when set, else
    /// `limit(fullFineTuning:)`. A training step frees and allocates the same sizes every step;
    /// with 256 MiB a SmolLM2 LoRA step (seq 256 × 4) still faulted in ~400 MB of fresh pages
    /// (100 k faults, a sixth of its time in the kernel, steps ±8 %); with 2 GiB half the faults
    /// are gone, the spread is 2.5 % and the peak RSS is no higher (1.87 → 1.77 GiB).
    public static func limit(fullFineTuning: Bool) -> Int {
        if let mb = ProcessInfo.processInfo.environment["LORIKEET_CACHE_MB"].flatMap(Int.init) { return max(0, mb) << 20 }
        // Full fine-tuning's update holds every weight's gradient while the cache holds the
        // activations backward freed, which no gradient can reuse: keep that small.
        return fullFineTuning ? 256 << 20 : min(2 << 30, Int(ProcessInfo.processInfo.physicalMemory / 8))
    }

    /// The current limit (a training run sets it for its method); lowering it frees the oldest blocks.
    public var limit: Int {
        get { lock.withLock { _limit } }
        set {
            let evicted: [UnsafeMutableRawPointer] = lock.withLock {
                _limit = max(0, newValue)
                return evictLocked(toFit: 0)
            }
            for e in evicted { Foundation.free(e) }
        }
    }
    private var _limit: Int

    init() { _limit = Self.limit(fullFineTuning: false) }

    /// Drops the oldest blocks until `incoming` more bytes fit (lock held); returns them to free.
    private func evictLocked(toFit incoming: Int) -> [UnsafeMutableRawPointer] {
        var out: [UnsafeMutableRawPointer] = []
        while cachedBytes + incoming > _limit, !entries.isEmpty {
            let e = entries.removeFirst()
            cachedBytes -= e.size
            out.append(e.pointer)
        }
        return out
    }

    /// Bytes currently held for reuse.
    public var heldBytes: Int { lock.withLock { cachedBytes } }

    /// Allocation size class: 64 KiB steps below 1 MiB, 1 MiB steps above.
    static func sizeClass(_ n: Int) -> Int {
        if n < minimumCached { return (max(n, 1) + 63) & ~63 }
        let step = n < (1 << 20) ? (64 << 10) : (1 << 20)
        return (n + step - 1) / step * step
    }

    func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        let size = Self.sizeClass(byteCount)
        if size >= Self.minimumCached {
            let hit: UnsafeMutableRawPointer? = lock.withLock {
                guard let i = entries.lastIndex(where: { $0.size == size }) else { return nil }
                cachedBytes -= size
                return entries.remove(at: i).pointer
            }
            if let hit { return hit }
        }
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, size)
        precondition(rc == 0 && raw != nil, "out of memory allocating \(byteCount) bytes")
        return raw!
    }

    func release(_ p: UnsafeMutableRawPointer, _ byteCount: Int) {
        let size = Self.sizeClass(byteCount)
        guard size >= Self.minimumCached else { Foundation.free(p); return }
        // The most recently freed sizes are the likeliest to come back (a training step
        // repeats its allocations), so make room by dropping the oldest blocks.
        let (kept, evicted): (Bool, [UnsafeMutableRawPointer]) = lock.withLock {
            guard size <= _limit else { return (false, []) }
            let out = evictLocked(toFit: size)
            entries.append((size, p))
            cachedBytes += size
            return (true, out)
        }
        if !kept { Foundation.free(p) }
        for e in evicted { Foundation.free(e) }
    }

    /// Returns every cached block to the system.
    public func purge() {
        let blocks: [UnsafeMutableRawPointer] = lock.withLock {
            let all = entries.map(\.pointer)
            entries = []
            cachedBytes = 0
            return all
        }
        for p in blocks { Foundation.free(p) }
    }
}
