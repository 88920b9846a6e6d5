// From what `--model` says to a file or folder on disk: a path as is; `ollama:` through the
// Ollama store's manifest to its GGUF blob; `hf:` through the Hugging Face cache, downloading
// what the snapshot lacks unless HF_HUB_OFFLINE forbids it. What was found comes back with
// the path (`ModelOrigin`), so `inspect` can show the manifest's layers or the snapshot.
import Foundation

/// Where a model came from.
public enum ModelOrigin: Sendable, Equatable {
    /// A path given as such.
    case path
    /// A model of the Ollama store.
    case ollama(OllamaModel)
    /// A snapshot of the Hugging Face cache.
    case huggingFace(HubSnapshot)

    /// The reference as the user would type it (nil for a path).
    public var reference: String? {
        switch self {
        case .path: nil
        case let .ollama(m): ModelReference.ollamaPrefix + m.name.description
        case let .huggingFace(s): ModelReference.huggingFacePrefix + s.reference.description
        }
    }
}

/// A model reference resolved to files on disk.
public struct ResolvedModel: Sendable, Equatable {
    /// The model folder or GGUF file to open.
    public let path: String
    /// Where it came from.
    public let origin: ModelOrigin
}

/// Resolves model references against the stores an environment names.
public struct ModelResolver: Sendable {
    /// Where the stores are and how the hub is reached.
    public var environment: ModelStoreEnvironment
    /// Receives download progress (hub downloads only).
    public var progress: DownloadProgressHandler?
    /// Hash every Ollama blob against its digest (slow for large models; sizes are always checked).
    public var verifyOllamaDigests = false
    /// Tries per file before a broken download is given up (each resumes where the last stopped).
    public var downloadAttempts = 5

    /// A resolver over `environment`, reporting downloads to `progress`.
    public init(environment: ModelStoreEnvironment = ModelStoreEnvironment(), progress: DownloadProgressHandler? = nil) {
        self.environment = environment
        self.progress = progress
    }

    /// Resolves `text`: an existing file or folder is a path whatever its spelling; otherwise
    /// `ollama:…` / `hf:…` are looked up, and anything else is returned as a path (for the
    /// opener to report missing).
    public func resolve(_ text: String) throws -> ResolvedModel {
        if FileManager.default.fileExists(atPath: text) { return ResolvedModel(path: text, origin: .path) }
        return try resolve(ModelReference(parsing: text))
    }

    /// Resolves a parsed reference.
    public func resolve(_ reference: ModelReference) throws -> ResolvedModel {
        switch reference {
        case let .path(p):
            return ResolvedModel(path: p, origin: .path)
        case let .ollama(name):
            let model = try OllamaStore(environment: environment).model(named: name, verifyDigests: verifyOllamaDigests)
            return ResolvedModel(path: model.ggufURL.path, origin: .ollama(model))
        case let .huggingFace(ref):
            let downloader = HubDownloader(cache: HubCache(environment: environment),
                                           client: HubClient(endpoint: environment.hubEndpoint, token: environment.hubToken),
                                           offline: environment.hubOffline, attempts: max(1, downloadAttempts), progress: progress)
            let snapshot = try downloader.resolve(ref)
            return ResolvedModel(path: snapshot.path.path, origin: .huggingFace(snapshot))
        }
    }
}
