// Typed errors of the stores. Each names the file, folder or address involved and says what
// to do next: which store was searched and what is in it, which variable sets a token, what
// is missing from the cache when the network is not allowed.

/// An error finding or fetching a model by reference.
public enum ModelStoreError: Error, Equatable, CustomStringConvertible {
    /// The reference is malformed.
    case invalidReference(String, reason: String)

    /// No manifest for `name` in the Ollama store `store`; `nearest` are names that are there,
    /// closest first; `available` counts all of them.
    case ollamaModelNotFound(name: String, store: String, nearest: [String], available: Int)
    /// The manifest cannot be read or is not a manifest.
    case ollamaManifestInvalid(manifest: String, reason: String)
    /// The manifest has no `application/vnd.ollama.image.model` layer.
    case ollamaNoModelLayer(manifest: String, mediaTypes: [String])
    /// A layer's blob is not in the store.
    case ollamaBlobMissing(blob: String, manifest: String)
    /// A blob's size differs from the manifest's.
    case ollamaBlobSizeMismatch(blob: String, expected: Int64, actual: Int64)
    /// A blob's SHA-256 differs from its digest (checked only when asked).
    case ollamaDigestMismatch(blob: String, expected: String, actual: String)
    /// The model layer is not a GGUF file.
    case ollamaNotGGUF(blob: String)

    /// The hub refused without valid credentials (HTTP 401/403).
    case hubUnauthorized(repository: String, url: String, tokenSent: Bool, detail: String)
    /// The repository is gated: its terms must be accepted on the hub with this token's account.
    case hubGated(repository: String, url: String, detail: String)
    /// No such repository (or a private one the token cannot see).
    case hubRepositoryNotFound(repository: String, url: String, tokenSent: Bool)
    /// The repository has no such branch, tag or commit.
    case hubRevisionNotFound(repository: String, revision: String, url: String)
    /// The named file is not in the repository at that revision; `available` lists what is.
    case hubFileNotFound(repository: String, revision: String, file: String, available: [String])
    /// The repository holds no model Lorikeet reads, or several GGUF files and none was named.
    case hubNotAModel(repository: String, revision: String, reason: String)
    /// Network use is forbidden (`HF_HUB_OFFLINE`) and the cache lacks these files.
    case hubOffline(repository: String, revision: String, cache: String, missing: [String])
    /// A downloaded file's hash differs from the one the hub announced; it was deleted.
    case hubHashMismatch(file: String, url: String, expected: String, actual: String)
    /// A downloaded file's length differs from the one the hub announced; it was deleted.
    case hubSizeMismatch(file: String, url: String, expected: Int64, actual: Int64)
    /// The hub answered with an unexpected HTTP status.
    case hubHTTP(url: String, status: Int, detail: String)
    /// The hub could not be reached, or the transfer broke off.
    case hubNetwork(url: String, reason: String)
    /// A file or folder of the cache cannot be read or written.
    case cacheIO(path: String, reason: String)

    /// A message that names what was involved and what to do.
    public var description: String {
        switch self {
        case let .invalidReference(r, reason):
            return "\(r): not a model reference: \(reason)"
        case let .ollamaModelNotFound(name, store, nearest, available):
            if available == 0 {
                return "ollama:\(name): not in the Ollama store \(store), which holds no models "
                    + "(set OLLAMA_MODELS to the store's folder; Ollama's Linux service keeps it in /usr/share/ollama/.ollama/models)"
            }
            return "ollama:\(name): not in the Ollama store \(store); it holds \(available) model\(available == 1 ? "" : "s")"
                + ", nearest: \(nearest.joined(separator: ", "))"
        case let .ollamaManifestInvalid(m, reason):
            return "\(m): not an Ollama manifest: \(reason)"
        case let .ollamaNoModelLayer(m, types):
            return "\(m): the manifest has no model layer (application/vnd.ollama.image.model); its layers: "
                + (types.isEmpty ? "none" : types.joined(separator: ", "))
        case let .ollamaBlobMissing(blob, m):
            return "\(blob): blob missing from the Ollama store (named by \(m)); `ollama pull` the model again"
        case let .ollamaBlobSizeMismatch(blob, expected, actual):
            return "\(blob): \(actual) bytes, the manifest says \(expected) (damaged or partial blob; `ollama pull` the model again)"
        case let .ollamaDigestMismatch(blob, expected, actual):
            return "\(blob): SHA-256 is \(actual), the manifest says \(expected) (damaged blob; `ollama pull` the model again)"
        case let .ollamaNotGGUF(blob):
            return "\(blob): the model layer is not a GGUF file (Lorikeet reads GGUF models from Ollama)"
        case let .hubUnauthorized(repo, url, sent, detail):
            let hint = sent ? "the token in HF_TOKEN was refused (invalid, expired or without access)"
                            : "a token is needed: set HF_TOKEN (or run `huggingface-cli login`)"
            return "hf:\(repo): \(url) answered 401 Unauthorized: \(hint)" + (detail.isEmpty ? "" : " — \(detail)")
        case let .hubGated(repo, url, detail):
            return "hf:\(repo): gated repository (\(url)): accept its terms on the hub with the account of HF_TOKEN"
                + (detail.isEmpty ? "" : " — \(detail)")
        case let .hubRepositoryNotFound(repo, url, sent):
            return "hf:\(repo): repository not found (\(url))"
                + (sent ? "; check the name, and that HF_TOKEN can see it if it is private" : "; check the name, or set HF_TOKEN if it is private")
        case let .hubRevisionNotFound(repo, rev, url):
            return "hf:\(repo)@\(rev): the repository has no branch, tag or commit '\(rev)' (\(url))"
        case let .hubFileNotFound(repo, rev, file, available):
            return "hf:\(repo)/\(file)@\(rev): no such file in the repository"
                + (available.isEmpty ? "" : "; it has: \(available.joined(separator: ", "))")
        case let .hubNotAModel(repo, rev, reason):
            return "hf:\(repo)@\(rev): \(reason)"
        case let .hubOffline(repo, rev, cache, missing):
            return "hf:\(repo)@\(rev): HF_HUB_OFFLINE is set and the cache \(cache) lacks "
                + missing.joined(separator: ", ") + " (unset HF_HUB_OFFLINE to download)"
        case let .hubHashMismatch(file, url, expected, actual):
            return "\(file): download from \(url) refused: its hash is \(actual), the hub announced \(expected); the file was deleted"
        case let .hubSizeMismatch(file, url, expected, actual):
            return "\(file): download from \(url) refused: \(actual) bytes, the hub announced \(expected); the file was deleted"
        case let .hubHTTP(url, status, detail):
            return "\(url): HTTP \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case let .hubNetwork(url, reason):
            return "\(url): \(reason) (set HF_HUB_OFFLINE=1 to use only what is cached)"
        case let .cacheIO(path, reason):
            return "\(path): \(reason)"
        }
    }
}
