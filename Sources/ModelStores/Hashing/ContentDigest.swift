// The digests files are named by in the two stores: SHA-256 of the bytes (Ollama blobs, the
// hub's LFS files) or git's blob id (the hub's small files kept in git), computed while the
// bytes stream past, so a multi-GB download is hashed without being read twice.
import Foundation

/// The hash a file must have, as a store names it.
enum ContentDigest: Sendable, Equatable, CustomStringConvertible {
    /// SHA-256 of the contents, 64 hex digits.
    case sha256(String)
    /// git's blob id: SHA-1 of `blob <byte count>\0` and the contents, 40 hex digits.
    case gitBlob(String)

    /// The digest a hub ETag names: 64 hex digits are SHA-256 (LFS), 40 are a git blob id;
    /// anything else is nil (checked by size only).
    init?(hubETag etag: String) {
        let e = etag.lowercased()
        guard e.allSatisfy(\.isHexDigit) else { return nil }
        switch e.count {
        case 64: self = .sha256(e)
        case 40: self = .gitBlob(e)
        default: return nil
        }
    }

    /// The expected hex digest.
    var hex: String {
        switch self { case let .sha256(h), let .gitBlob(h): h }
    }

    var description: String {
        switch self {
        case let .sha256(h): "sha256 \(h)"
        case let .gitBlob(h): "git blob sha1 \(h)"
        }
    }
}

/// A running hash of the kind a `ContentDigest` names.
struct DigestStream: Sendable {
    // One of the two is set; kept apart (not an enum payload) so updates mutate in place.
    private var sha256: SHA256?
    private var sha1: SHA1?

    /// Starts hashing for `digest`; a git blob id needs the file's `byteCount` first.
    init(for digest: ContentDigest, byteCount: Int64) {
        switch digest {
        case .sha256: sha256 = SHA256()
        case .gitBlob: sha1 = SHA1.gitBlob(count: Int(byteCount))
        }
    }

    /// Feeds bytes in file order.
    mutating func update(_ buffer: UnsafeRawBufferPointer) {
        sha256?.update(buffer)
        sha1?.update(buffer)
    }

    /// Feeds the first `byteCount` bytes of the file at `url` (a partial download being resumed).
    mutating func update(file url: URL, byteCount: Int64) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var left = byteCount
        while left > 0 {
            guard let chunk = try handle.read(upToCount: Int(min(left, 4 << 20))), !chunk.isEmpty else { break }
            chunk.withUnsafeBytes { update($0) }
            left -= Int64(chunk.count)
        }
    }

    /// The hex digest of everything fed.
    mutating func finalize() -> String {
        if sha256 != nil { return sha256!.finalize().hexString }
        return sha1!.finalize().hexString
    }
}
