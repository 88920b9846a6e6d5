// A bounds-checked little-endian cursor over a mapped file. Every read checks the remaining
// bytes first and throws FormatError.truncated naming the field, so a short or hostile file
// can never read past the mapping or make us allocate more than the file holds.
import TensorCore

/// Sequential little-endian reads from a byte buffer that throw instead of overrunning.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    /// Bytes left after the cursor.
    var remaining: Int { bytes.count - offset }

    /// Throws unless `n` more bytes exist.
    func need(_ n: Int, _ context: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw FormatError.truncated(file: file, context: context(), offset: offset, needed: n)
        }
    }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ context: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, context())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func u8(_ c: @autoclosure () -> String) throws -> UInt8 { try load(UInt8.self, c()) }
    mutating func u32(_ c: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, c()) }
    mutating func u64(_ c: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, c()) }

    /// A u64 count or size that must fit in `Int` and in `limit` (defaults to the bytes left).
    mutating func count(_ context: @autoclosure () -> String, perItem: Int = 1) throws -> Int {
        let raw = try u64(context())
        let limit = remaining / max(perItem, 1)
        guard raw <= UInt64(limit) else {
            throw FormatError.invalidHeader(
                file: file,
                reason: "\(context()) is \(raw), but only \(remaining) bytes remain (at most \(limit) items fit)")
        }
        return Int(raw)
    }

    /// `n` raw bytes (a view, not a copy).
    mutating func take(_ n: Int, _ context: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try need(n, context())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return slice
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes (invalid sequences are replaced).
    mutating func string(_ context: @autoclosure () -> String) throws -> String {
        let n = try count("length of \(context())")
        return String(decoding: try take(n, context()), as: UTF8.self)
    }
}
