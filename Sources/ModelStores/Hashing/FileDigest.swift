// SHA-256 of a whole file, for callers outside the stores (checkpoint manifests).
import Foundation

/// Hashes of files on disk.
public enum FileDigest {
    /// The SHA-256 of the file at `url` as 64 lower-case hex digits, read in 4 MiB pieces.
    public static func sha256(of url: URL) throws -> String {
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
        var stream = DigestStream(for: .sha256(""), byteCount: size)
        try stream.update(file: url, byteCount: size)
        return stream.finalize()
    }
}
