// The Hugging Face cache, laid out exactly as huggingface_hub lays it out, so that files
// either tool downloaded serve the other:
//   <cache>/models--ORG--NAME/refs/<revision>            the commit hash a branch/tag points at
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>  symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/blobs/<etag>[.incomplete]  content (partial while downloading)
//   <cache>/.locks/models--ORG--NAME/<etag>.lock         flock()ed while a blob is downloaded
// (python's filelock takes the same flock, so the two never write one blob at once).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Hugging Face hub cache folder.
public struct HubCache: Sendable {
    /// The cache folder (`HF_HUB_CACHE`).
    public let root: URL

    /// The cache at `root`.
    public init(root: URL) {
        self.root = root
    }

    /// The cache the environment names.
    public init(environment: ModelStoreEnvironment) {
        self.init(root: environment.hubCache)
    }

    /// `models--ORG--NAME`.
    static func folderName(_ repository: String) -> String {
        "models--" + repository.replacingOccurrences(of: "/", with: "--")
    }

    /// The repository's folder in the cache.
    public func repositoryFolder(_ repository: String) -> URL {
        root.appendingPathComponent(Self.folderName(repository), isDirectory: true)
    }

    /// The snapshot folder of `commit`.
    public func snapshotFolder(_ repository: String, commit: String) -> URL {
        repositoryFolder(repository).appendingPathComponent("snapshots").appendingPathComponent(commit, isDirectory: true)
    }

    /// `blobs/<etag>`.
    func blobURL(_ repository: String, etag: String) -> URL {
        repositoryFolder(repository).appendingPathComponent("blobs").appendingPathComponent(etag)
    }

    /// `blobs/<etag>.incomplete`, a download in progress.
    func incompleteURL(_ repository: String, etag: String) -> URL {
        repositoryFolder(repository).appendingPathComponent("blobs").appendingPathComponent(etag + ".incomplete")
    }

    /// The commit `ref`'s revision names: the revision itself when it is a commit hash, else
    /// the contents of `refs/<revision>`; nil when the cache has no such ref.
    public func commit(for ref: HubModelReference) -> String? {
        if ref.revisionIsCommit { return ref.revision }
        let file = repositoryFolder(ref.repository).appendingPathComponent("refs").appendingPathComponent(ref.revision)
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubModelReference.isCommit(commit) ? commit : nil
    }

    /// Writes `refs/<revision>` = `commit` (nothing for a revision that is a commit).
    func writeRef(_ ref: HubModelReference, commit: String) throws {
        guard ref.revision != commit else { return }
        let file = repositoryFolder(ref.repository).appendingPathComponent("refs").appendingPathComponent(ref.revision)
        if (try? String(contentsOf: file, encoding: .utf8)) == commit { return }
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(commit.utf8).write(to: file, options: .atomic)
        } catch {
            throw ModelStoreError.cacheIO(path: file.path, reason: "cannot write the ref (\(error.localizedDescription))")
        }
    }

    /// True when the snapshot has `file` and it leads to an existing file (a dangling link, as
    /// after a blob was deleted, is missing).
    func snapshotHas(_ repository: String, commit: String, file: String) -> Bool {
        var isDir: ObjCBool = false
        let path = snapshotFolder(repository, commit: commit).appendingPathComponent(file).path
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// The snapshot's top-level file names (those that lead to existing files).
    func snapshotFiles(_ repository: String, commit: String) -> [String] {
        let folder = snapshotFolder(repository, commit: commit)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { snapshotHas(repository, commit: commit, file: $0) }.sorted()
    }

    /// Makes `snapshots/<commit>/<file>` a relative symlink to `blobs/<etag>`, replacing what is there.
    func link(_ repository: String, commit: String, file: String, etag: String) throws {
        let fm = FileManager.default
        let link = snapshotFolder(repository, commit: commit).appendingPathComponent(file)
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        do {
            try fm.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            if (try? fm.destinationOfSymbolicLink(atPath: link.path)) == target { return }
            if (try? fm.attributesOfItem(atPath: link.path)) != nil { try fm.removeItem(at: link) }
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: target)
        } catch {
            throw ModelStoreError.cacheIO(path: link.path, reason: "cannot link the snapshot file to blobs/\(etag) (\(error.localizedDescription))")
        }
    }

    /// Runs `body` holding the blob's lock file (`.locks/models--ORG--NAME/<etag>.lock`).
    func withBlobLock<T>(_ repository: String, etag: String, _ body: () throws -> T) throws -> T {
        let dir = root.appendingPathComponent(".locks").appendingPathComponent(Self.folderName(repository))
        let path = dir.appendingPathComponent(etag + ".lock").path
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw ModelStoreError.cacheIO(path: path, reason: "cannot open the lock file (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else {
            throw ModelStoreError.cacheIO(path: path, reason: "cannot lock (\(String(cString: strerror(errno))))")
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
