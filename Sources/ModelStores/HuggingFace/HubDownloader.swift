// Resolving `hf:` references: the cache first, with no network when the snapshot already has
// the model; otherwise the hub's model info, then each missing file: HEAD for its etag and size,
// GET into blobs/<etag>.incomplete (resuming with Range: from what a broken transfer left, up to
// `attempts` times), hashed while it streams, checked against the etag (SHA-256 for LFS files,
// git's blob SHA-1 otherwise), and only then renamed to blobs/<etag> and linked from the
// snapshot. A file that fails the check is deleted, never left under its final name.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds hub models in the cache and downloads what is missing.
struct HubDownloader: Sendable {
    let cache: HubCache
    let client: HubClient
    let offline: Bool
    let attempts: Int
    let progress: DownloadProgressHandler?

    func resolve(_ ref: HubModelReference) throws -> HubSnapshot {
        if let commit = cache.commit(for: ref) {
            let local = HubFileSelection.local(ref, commit: commit, cache: cache, requireTokenizer: !offline)
            if local.missing.isEmpty { return snapshot(ref, commit: commit, layout: local.layout, downloaded: []) }
            if offline {
                throw ModelStoreError.hubOffline(repository: ref.repository, revision: ref.revision,
                                                 cache: cache.snapshotFolder(ref.repository, commit: commit).path, missing: local.missing)
            }
        } else if offline {
            throw ModelStoreError.hubOffline(repository: ref.repository, revision: ref.revision,
                                             cache: cache.repositoryFolder(ref.repository).path,
                                             missing: ["refs/\(ref.revision) (nothing of this revision is cached)"])
        }
        let info = try client.repositoryInfo(ref)
        let layout = try HubFileSelection.layout(for: ref, files: info.files)
        try cache.writeRef(ref, commit: info.commit)
        var downloaded: [String] = []
        switch layout {
        case let .gguf(file):
            downloaded += try fetch([file], ref, commit: info.commit)
        case .folder:
            let metadata = HubFileSelection.metadata(in: info.files)
            downloaded += try fetch(metadata, ref, commit: info.commit)
            let index = cache.snapshotFolder(ref.repository, commit: info.commit).appendingPathComponent(HubFileSelection.index)
            var shards: [String]?
            if metadata.contains(HubFileSelection.index) {
                guard let s = HubFileSelection.shards(ofIndex: index) else {
                    throw ModelStoreError.hubNotAModel(repository: ref.repository, revision: ref.revision,
                                                       reason: "\(HubFileSelection.index) has no weight_map")
                }
                shards = s
            }
            downloaded += try fetch(HubFileSelection.weights(in: info.files, shards: shards), ref, commit: info.commit)
        }
        return snapshot(ref, commit: info.commit, layout: layout, downloaded: downloaded)
    }

    /// Downloads those of `files` the snapshot lacks; returns them.
    func fetch(_ files: [String], _ ref: HubModelReference, commit: String) throws -> [String] {
        var fetched: [String] = []
        // Names come from the endpoint (file list, index): none may step out of the snapshot.
        if let bad = files.first(where: { $0.hasPrefix("/") || !$0.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isSafeComponent) }) {
            throw ModelStoreError.hubNotAModel(repository: ref.repository, revision: ref.revision, reason: "file name '\(bad)' is not a relative path")
        }
        for file in files where !cache.snapshotHas(ref.repository, commit: commit, file: file) {
            try download(file, ref, commit: commit)
            fetched.append(file)
        }
        return fetched
    }

    /// Brings one file into the cache: its blob (unless another revision already has it), then the link.
    func download(_ file: String, _ ref: HubModelReference, commit: String) throws {
        let meta = try client.metadata(ref, commit: commit, file: file)
        guard meta.etag.allSatisfy(isNameCharacter), isSafeComponent(meta.etag) else {
            throw ModelStoreError.hubHTTP(url: try client.fileURL(ref, commit: commit, file: file).absoluteString, status: 200,
                                          detail: "ETag '\(meta.etag)' cannot name a cache file")
        }
        let blob = cache.blobURL(ref.repository, etag: meta.etag)
        if !FileManager.default.fileExists(atPath: blob.path) {
            try cache.withBlobLock(ref.repository, etag: meta.etag) {
                // Another process may have finished it while this one waited for the lock.
                if !FileManager.default.fileExists(atPath: blob.path) { try transfer(file, ref, commit: commit, meta: meta, to: blob) }
            }
        }
        try cache.link(ref.repository, commit: commit, file: file, etag: meta.etag)
    }

    /// GETs the file into `<blob>.incomplete`, resuming and retrying, verifies it and renames it to `blob`.
    func transfer(_ file: String, _ ref: HubModelReference, commit: String, meta: HubFileMetadata, to blob: URL) throws {
        let url = try client.fileURL(ref, commit: commit, file: file)
        let partial = cache.incompleteURL(ref.repository, etag: meta.etag)
        let expected = ContentDigest(hubETag: meta.etag)
        do {
            try FileManager.default.createDirectory(at: blob.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ModelStoreError.cacheIO(path: blob.deletingLastPathComponent().path, reason: "cannot create (\(error.localizedDescription))")
        }
        let state = try PartialFile(url: partial, expected: expected, size: meta.size)
        defer { state.close() }
        var attempt = 0
        var broken = "the transfer ended early"
        while state.written < meta.size && attempt < attempts {
            attempt += 1
            report(.started, ref, file, state.written, meta.size)
            do {
                let (head, body, _) = try client.download(url, from: state.written) { head in
                    try state.accept(head, url: url)
                    return { bytes in
                        try state.append(bytes)
                        self.report(.received, ref, file, state.written, meta.size)
                    }
                }
                guard (200..<300).contains(head.status) else { throw client.refusal(head, body: body, ref: ref, file: file) }
            } catch let ModelStoreError.hubNetwork(_, reason) {
                broken = reason  // resumed from what arrived, after a short pause, while attempts are left
                if attempt < attempts { Thread.sleep(forTimeInterval: 0.2 * Double(attempt)) }
            }
        }
        if state.written < meta.size {
            // The partial file stays for the next run to resume.
            throw ModelStoreError.hubNetwork(url: url.absoluteString, reason: "\(broken); stopped at byte \(state.written) of \(meta.size) "
                + "after \(attempt) attempt\(attempt == 1 ? "" : "s"), run again to resume from \(partial.lastPathComponent)")
        }
        if meta.size == 0 { report(.started, ref, file, 0, 0) }
        guard state.written == meta.size else {
            try? FileManager.default.removeItem(at: partial)
            throw ModelStoreError.hubSizeMismatch(file: file, url: url.absoluteString, expected: meta.size, actual: state.written)
        }
        if let expected {
            let actual = state.finalize()
            guard actual == expected.hex else {
                try? FileManager.default.removeItem(at: partial)
                throw ModelStoreError.hubHashMismatch(file: file, url: url.absoluteString, expected: expected.description,
                                                      actual: actual)
            }
        }
        guard rename(partial.path, blob.path) == 0 else {
            throw ModelStoreError.cacheIO(path: blob.path, reason: "cannot rename the download into place (\(String(cString: strerror(errno))))")
        }
        report(.finished, ref, file, meta.size, meta.size)
    }

    func report(_ event: DownloadProgress.Event, _ ref: HubModelReference, _ file: String, _ done: Int64, _ total: Int64) {
        progress?(DownloadProgress(event: event, repository: ref.repository, file: file, bytesDone: done, bytesTotal: total))
    }

    /// The snapshot as found, with the files used.
    func snapshot(_ ref: HubModelReference, commit: String, layout: HubModelLayout, downloaded: [String]) -> HubSnapshot {
        let folder = cache.snapshotFolder(ref.repository, commit: commit)
        let names: [String]
        let path: URL
        switch layout {
        case let .gguf(f): (names, path) = ([f], folder.appendingPathComponent(f))
        case .folder: (names, path) = (cache.snapshotFiles(ref.repository, commit: commit), folder)
        }
        let files = names.map { name -> HubSnapshotFile in
            let link = folder.appendingPathComponent(name)
            let blob = link.resolvingSymlinksInPath()
            let size = (try? FileManager.default.attributesOfItem(atPath: blob.path)[.size] as? NSNumber)?.int64Value ?? 0
            return HubSnapshotFile(name: name, blob: blob, size: size)
        }
        return HubSnapshot(reference: ref, commit: commit, folder: folder, path: path, files: files, downloaded: downloaded)
    }
}

/// A `.incomplete` file being appended to, with the running hash of everything in it. Touched
/// by the transfer's delegate thread while the downloading thread waits, never by both at once.
final class PartialFile: @unchecked Sendable {
    let url: URL
    private(set) var written: Int64
    private var fd: Int32 = -1
    private var digest: DigestStream?
    private let expected: ContentDigest?
    private let size: Int64

    /// Opens (or creates) the partial file; a partial longer than the file is started over.
    /// The bytes already there are hashed first, so the digest covers the whole file.
    init(url: URL, expected: ContentDigest?, size: Int64) throws {
        self.url = url
        self.expected = expected
        self.size = size
        let existing = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? 0
        written = existing > size ? 0 : existing
        fd = open(url.path, O_WRONLY | O_CREAT, 0o644)
        guard fd >= 0 else { throw ModelStoreError.cacheIO(path: url.path, reason: "cannot open (\(String(cString: strerror(errno))))") }
        try truncate(to: written)
        digest = expected.map { DigestStream(for: $0, byteCount: size) }
        if written > 0, digest != nil {
            do { try digest!.update(file: url, byteCount: written) } catch {
                throw ModelStoreError.cacheIO(path: url.path, reason: "cannot read the partial download (\(error.localizedDescription))")
            }
        }
    }

    deinit { close() }

    /// Checks the response to a request from `written`: a 206 must start there; a 200 to a
    /// ranged request means the server sent the whole file, so the partial starts over.
    func accept(_ head: HTTPHead, url: URL) throws {
        guard written > 0 else { return }
        if head.status == 206 {
            let start = head["content-range"].flatMap { r -> Int64? in
                guard let dash = r.firstIndex(of: "-"), let space = r.firstIndex(of: " ") else { return nil }
                return Int64(r[r.index(after: space)..<dash])
            }
            guard start == written else {
                throw ModelStoreError.hubHTTP(url: url.absoluteString, status: 206,
                                              detail: "Content-Range '\(head["content-range"] ?? "")' does not start at byte \(written)")
            }
        } else if head.status == 200 {
            try truncate(to: 0)
            digest = expected.map { DigestStream(for: $0, byteCount: size) }
        }
    }

    /// Appends bytes and hashes them.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else {
                if n < 0 && errno == EINTR { continue }
                throw ModelStoreError.cacheIO(path: url.path, reason: "cannot write (\(String(cString: strerror(errno))))")
            }
            offset += n
        }
        digest?.update(bytes)
        written += Int64(bytes.count)
    }

    /// The hex digest of the whole file.
    func finalize() -> String {
        digest?.finalize() ?? ""
    }

    func close() {
        if fd >= 0 { closeDescriptor(fd); fd = -1 }
    }

    private func truncate(to length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0, lseek(fd, off_t(length), SEEK_SET) >= 0 else {
            throw ModelStoreError.cacheIO(path: url.path, reason: "cannot truncate (\(String(cString: strerror(errno))))")
        }
        written = length
    }
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
