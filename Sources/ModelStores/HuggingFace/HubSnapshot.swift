// A model found (or just completed) in the Hugging Face cache, and the progress reports of
// the downloads that completed it.
import Foundation

/// A revision of a hub repository as it lies in the cache.
public struct HubSnapshot: Sendable, Equatable {
    /// What was asked for.
    public let reference: HubModelReference
    /// The commit the revision resolved to.
    public let commit: String
    /// `snapshots/<commit>`.
    public let folder: URL
    /// What to open: the snapshot folder, or the GGUF file in it.
    public let path: URL
    /// The files used, with the blobs they link to.
    public let files: [HubSnapshotFile]
    /// The files this resolution downloaded (empty when everything was cached).
    public let downloaded: [String]
}

/// One file of a snapshot.
public struct HubSnapshotFile: Sendable, Equatable {
    /// Path in the repository.
    public let name: String
    /// The blob the snapshot links it to (the file itself when it is not a link).
    public let blob: URL
    /// Size in bytes.
    public let size: Int64
}

/// A download's progress, reported as bytes arrive.
public struct DownloadProgress: Sendable, Equatable {
    /// What happened.
    public enum Event: Sendable, Equatable {
        /// The transfer of `file` begins (`bytesDone` > 0 when resuming a partial download).
        case started
        /// More bytes arrived.
        case received
        /// The file is complete, verified and in the cache.
        case finished
    }
    /// What happened.
    public let event: Event
    /// `hf:` repository.
    public let repository: String
    /// Path of the file in the repository.
    public let file: String
    /// Bytes on disk so far (including those of a resumed partial download).
    public let bytesDone: Int64
    /// The file's size.
    public let bytesTotal: Int64
}

/// Receives download progress, from the thread that receives the bytes.
public typealias DownloadProgressHandler = @Sendable (DownloadProgress) -> Void
