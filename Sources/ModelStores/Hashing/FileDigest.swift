// SHA-256 of a whole file, or of several fields in turn, for callers outside the stores (checkpoint
// manifests, the token cache).
import Foundation

/// Hashes of files on disk.
public enum FileDigest {
    /// The SHA-256 of the file at `url` as 64 lower-case hex digits, read in 4 MiB pieces.
    public static func sha256(of url: URL) throws -> String {
        let size = try byteCount(of: url)
        var stream = DigestStream(for: .sha256(""), byteCount: size)
        try stream.update(file: url, byteCount: size)
        return stream.finalize()
    }

    /// The size of the file at `url`.
    static func byteCount(of url: URL) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
    }
}

/// One SHA-256 over several inputs fed in turn: bytes, strings and files. Each `field` is
/// prefixed with its length, so ("ab", "c") and ("a", "bc") hash differently.
public struct SHA256Hasher: Sendable {
    private var stream = DigestStream(for: .sha256(""), byteCount: 0)

    /// An empty hash.
    public init() {}

    /// Feeds `bytes` behind their length (8 bytes, little-endian).
    public mutating func field(_ bytes: Data) {
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { stream.update($0) }
        bytes.withUnsafeBytes { stream.update($0) }
    }

    /// Feeds the UTF-8 of `text` as one field.
    public mutating func field(_ text: String) { field(Data(text.utf8)) }

    /// Feeds the first `byteCount` bytes of the file at `url` (all of it when nil) behind its
    /// length, read in 4 MiB pieces.
    public mutating func field(file url: URL, byteCount: Int64? = nil) throws {
        let size = try byteCount ?? FileDigest.byteCount(of: url)
        withUnsafeBytes(of: UInt64(size).littleEndian) { stream.update($0) }
        try stream.update(file: url, byteCount: size)
    }

    /// The digest as 64 lower-case hex digits.
    public mutating func finalize() -> String { stream.finalize() }
}
