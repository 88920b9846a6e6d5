// The bytes behind a tensor: either memory we own (64-byte aligned) or a read-only,
// zero-copy view into a memory-mapped file. Tensors share storage and copy on write.
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
        let n = max(byteCount, 1)
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, (n + 63) & ~63)
        precondition(rc == 0 && raw != nil, "out of memory allocating \(byteCount) bytes")
        memset(raw!, 0, n)
        base = raw!
        self.byteCount = byteCount
        owner = nil
        isWritable = true
    }

    /// Allocates `byteCount` bytes without zeroing them (the caller fills them).
    init(uninitializedByteCount byteCount: Int) {
        let n = max(byteCount, 1)
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, (n + 63) & ~63)
        precondition(rc == 0 && raw != nil, "out of memory allocating \(byteCount) bytes")
        base = raw!
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

    deinit {
        if owner == nil { free(base) }
    }
}
