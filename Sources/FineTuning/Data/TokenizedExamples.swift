// The examples of a data set, held in memory while small and spilled to disk once they pass a
// token budget, so that a multi-gigabyte JSONL trains with memory independent of its size. A
// spilled store is three unlinked temporary files (token ids as Int32, target flags as UInt8,
// Int64 offsets) mapped read-only: nothing is left on disk, even after a crash, and pages are
// read only for the examples a batch uses. Both storages give the same examples in the same
// order, so shuffling, packing and resume do not depend on which one holds them.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The examples of a data set, in file order.
public struct TokenizedExamples: RandomAccessCollection, Sendable, Equatable {
    enum Storage: Sendable {
        case memory([TokenizedExample])
        case spilled(SpilledTokens)
    }
    let storage: Storage

    /// Examples held in memory.
    public init(_ examples: [TokenizedExample]) { storage = .memory(examples) }

    init(spilled: SpilledTokens) { storage = .spilled(spilled) }

    public var startIndex: Int { 0 }
    public var endIndex: Int {
        switch storage {
        case let .memory(e): e.count
        case let .spilled(s): s.count
        }
    }

    /// Example `i` (copied out of the mapped files when spilled).
    public subscript(i: Int) -> TokenizedExample {
        switch storage {
        case let .memory(e): e[i]
        case let .spilled(s): s.example(i)
        }
    }

    /// Every example's token count, without reading the tokens.
    public var lengths: [Int] {
        switch storage {
        case let .memory(e): e.map(\.count)
        case let .spilled(s): (0..<s.count).map(s.length)
        }
    }

    /// Whether the examples live in mapped temporary files rather than in memory.
    public var isSpilled: Bool {
        if case .spilled = storage { return true }
        return false
    }

    public static func == (a: TokenizedExamples, b: TokenizedExamples) -> Bool { a.elementsEqual(b) }
}

/// Collects examples in memory until `budget` tokens, then moves them and everything after into
/// temporary files under `directory`.
struct TokenizedExampleSink {
    let budget: Int
    let directory: URL
    private var memory: [TokenizedExample] = []
    private var memoryTokens = 0
    private var spill: SpillWriter?

    init(budget: Int, directory: URL = FileManager.default.temporaryDirectory) {
        self.budget = budget
        self.directory = directory
    }

    mutating func append(_ example: TokenizedExample) throws {
        if let spill {
            try spill.append(example)
            return
        }
        memory.append(example)
        memoryTokens += example.count
        if memoryTokens > budget {
            let writer = try SpillWriter(directory: directory)
            for e in memory { try writer.append(e) }
            memory = []
            spill = writer
        }
    }

    /// The collected examples (mapping the files when they were spilled).
    mutating func finish() throws -> TokenizedExamples {
        if let spill { return TokenizedExamples(spilled: try spill.finish()) }
        return TokenizedExamples(memory)
    }
}

/// Appends examples to three unlinked temporary files through buffered writes.
final class SpillWriter {
    private let tokens: SpillFile, masks: SpillFile, offsets: SpillFile
    private var total: Int64 = 0
    private var count = 0

    /// Three unlinked temporary files in `directory`.
    convenience init(directory: URL) throws {
        try self.init(tokens: SpillFile(directory: directory, name: "tokens"), masks: SpillFile(directory: directory, name: "masks"),
                      offsets: SpillFile(directory: directory, name: "offsets"))
    }

    /// Three files that stay (the token cache): `tokens.i32`, `masks.u8` and `offsets.i64` in `folder`.
    convenience init(keeping folder: URL) throws {
        try self.init(tokens: SpillFile(creating: folder.appendingPathComponent(SpillWriter.tokensFile).path),
                      masks: SpillFile(creating: folder.appendingPathComponent(SpillWriter.masksFile).path),
                      offsets: SpillFile(creating: folder.appendingPathComponent(SpillWriter.offsetsFile).path))
    }

    static let tokensFile = "tokens.i32", masksFile = "masks.u8", offsetsFile = "offsets.i64"

    private init(tokens: SpillFile, masks: SpillFile, offsets: SpillFile) throws {
        self.tokens = tokens
        self.masks = masks
        self.offsets = offsets
        try offsets.append(Int64(0))
    }

    func append(_ e: TokenizedExample) throws {
        for t in e.tokens { try tokens.append(Int32(truncatingIfNeeded: t)) }
        for m in e.targetMask { try masks.append(UInt8(m ? 1 : 0)) }
        total += Int64(e.count)
        count += 1
        try offsets.append(total)
    }

    func finish() throws -> SpilledTokens {
        try SpilledTokens(tokens: tokens.mapped(), masks: masks.mapped(), offsets: offsets.mapped(), count: count)
    }

    /// Writes what is buffered and syncs the files to disk (for files that stay).
    func flushAndSync() throws {
        for f in [tokens, masks, offsets] {
            try f.flush()
            fsync(f.fd)
        }
    }
}

/// One file written through a 1 MiB buffer: a temporary one, unlinked as soon as it is created,
/// or one that stays.
final class SpillFile {
    let fd: Int32
    let path: String
    private var buffer: [UInt8] = []
    private(set) var size = 0

    /// Creates (or truncates) the file at `path`, which stays.
    init(creating path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        self.path = path
        guard fd >= 0 else {
            throw DatasetError.unreadable(path: path, detail: "cannot create the file: \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(1 << 20)
    }

    init(directory: URL, name: String) throws {
        let template = directory.appendingPathComponent("lorikeet-\(name)-XXXXXX").path
        var bytes = Array(template.utf8CString)
        fd = bytes.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        path = bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard fd >= 0 else {
            throw DatasetError.unreadable(path: template, detail: "cannot create a temporary file to hold the tokenized data: \(String(cString: strerror(errno)))")
        }
        unlink(path)  // gone from the folder now; the data lives until the mapping is closed
        buffer.reserveCapacity(1 << 20)
    }

    deinit { close(fd) }

    func append<T: FixedWidthInteger>(_ value: T) throws {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + done, buffer.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw DatasetError.unreadable(path: path, detail: "cannot write the tokenized data to a temporary file (\(String(cString: strerror(errno)))); set TMPDIR to a folder with space")
            }
            done += n
        }
        size += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// The whole file mapped read-only.
    func mapped() throws -> MappedSpill {
        try flush()
        return try MappedSpill(fd: fd, size: size, path: path)
    }
}

/// A read-only mapping, unmapped when the last reference goes.
final class MappedSpill: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let size: Int
    init(base: UnsafeRawPointer?, size: Int) {
        self.base = base
        self.size = size
    }

    /// The first `size` bytes of the open file `fd` (named `path` in errors), mapped read-only.
    convenience init(fd: Int32, size: Int, path: String) throws {
        guard size > 0 else { self.init(base: nil, size: 0); return }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DatasetError.unreadable(path: path, detail: "cannot map the tokenized data (\(String(cString: strerror(errno))))")
        }
        self.init(base: UnsafeRawPointer(p), size: size)
    }

    /// The whole file at `path`, mapped read-only (the descriptor is closed; the mapping stays).
    convenience init(file path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DatasetError.unreadable(path: path, detail: "cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DatasetError.unreadable(path: path, detail: String(cString: strerror(errno))) }
        try self.init(fd: fd, size: Int(st.st_size), path: path)
    }
    deinit { if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) } }
}

/// Spilled examples: mapped token ids, target flags and offsets.
final class SpilledTokens: @unchecked Sendable {
    let tokens: MappedSpill, masks: MappedSpill, offsets: MappedSpill
    let count: Int

    init(tokens: MappedSpill, masks: MappedSpill, offsets: MappedSpill, count: Int) throws {
        self.tokens = tokens
        self.masks = masks
        self.offsets = offsets
        self.count = count
    }

    private func offset(_ i: Int) -> Int {
        Int(Int64(littleEndian: offsets.base!.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
    }

    /// Whether the offsets start at 0, never decrease and end at `total` (files read back from disk).
    func offsetsAreValid(total: Int) -> Bool {
        guard offset(0) == 0 else { return false }
        for i in 0..<count where offset(i + 1) < offset(i) { return false }
        return offset(count) == total
    }

    func length(_ i: Int) -> Int { offset(i + 1) - offset(i) }

    func example(_ i: Int) -> TokenizedExample {
        let start = offset(i), end = offset(i + 1)
        let ids = (start..<end).map { Int(Int32(littleEndian: tokens.base!.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
        let flags = (start..<end).map { masks.base!.load(fromByteOffset: $0, as: UInt8.self) != 0 }
        return TokenizedExample(tokens: ids, targetMask: flags)
    }
}
