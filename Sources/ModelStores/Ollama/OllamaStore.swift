// The local Ollama store, read-only: `manifests/<host>/<namespace>/<model>/<tag>` (JSON) and
// `blobs/sha256-<hex>` (content-addressed files). Finding a model checks that every layer's
// blob exists with the manifest's size; hashing a multi-GB blob is left to `verifyDigests`.
import Foundation

/// An Ollama models folder.
public struct OllamaStore: Sendable {
    /// The folder holding `manifests/` and `blobs/`.
    public let root: URL

    /// The store at `root`.
    public init(root: URL) {
        self.root = root
    }

    /// The store the environment names (`OLLAMA_MODELS`, else `~/.ollama/models`).
    public init(environment: ModelStoreEnvironment) {
        self.init(root: environment.ollamaModels)
    }

    /// The manifest file of `name` (whether or not it exists).
    public func manifestURL(_ name: OllamaModelName) -> URL {
        name.manifestComponents.reduce(root.appendingPathComponent("manifests")) { $0.appendingPathComponent($1) }
    }

    /// The blob file of a `sha256:<hex>` digest; throws for any other spelling (which could
    /// otherwise name a path outside the store).
    public func blobURL(digest: String, manifest: URL) throws -> URL {
        let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : ""
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
            throw ModelStoreError.ollamaManifestInvalid(manifest: manifest.path, reason: "digest '\(digest)' is not sha256:<64 hex digits>")
        }
        return root.appendingPathComponent("blobs").appendingPathComponent("sha256-\(hex.lowercased())")
    }

    /// Every model with a manifest in the store, sorted by name.
    public func names() -> [OllamaModelName] {
        let fm = FileManager.default
        let manifests = root.appendingPathComponent("manifests")
        func children(_ url: URL) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        var out: [OllamaModelName] = []
        for host in children(manifests) {
            for ns in children(manifests.appendingPathComponent(host)) {
                for model in children(manifests.appendingPathComponent(host).appendingPathComponent(ns)) {
                    let dir = manifests.appendingPathComponent(host).appendingPathComponent(ns).appendingPathComponent(model)
                    for tag in children(dir) {
                        var isDir: ObjCBool = false
                        if fm.fileExists(atPath: dir.appendingPathComponent(tag).path, isDirectory: &isDir), !isDir.boolValue {
                            out.append(OllamaModelName(host: host, namespace: ns, model: model, tag: tag))
                        }
                    }
                }
            }
        }
        return out.sorted { $0.description < $1.description }
    }

    /// Finds `name`'s manifest (an exact match, else one differing only in case, as Ollama
    /// treats names), reads its layers and checks their blobs. With `verifyDigests`, every
    /// blob is also hashed and compared with its digest (slow for large models).
    public func model(named name: OllamaModelName, verifyDigests: Bool = false) throws -> OllamaModel {
        var found = name
        var manifest = manifestURL(name)
        if !FileManager.default.fileExists(atPath: manifest.path) {
            let all = names()
            if let match = all.first(where: { $0.description.lowercased() == name.description.lowercased() }) {
                found = match
                manifest = manifestURL(match)
            } else {
                throw ModelStoreError.ollamaModelNotFound(name: name.description, store: root.path,
                                                          nearest: Self.nearest(to: name, in: all), available: all.count)
            }
        }
        return try read(manifest: manifest, name: found, verifyDigests: verifyDigests)
    }

    /// Reads and checks one manifest file.
    func read(manifest: URL, name: OllamaModelName, verifyDigests: Bool) throws -> OllamaModel {
        let data: Data
        do {
            let size = (try FileManager.default.attributesOfItem(atPath: manifest.path)[.size] as? NSNumber)?.intValue ?? 0
            guard size <= 1 << 20 else {
                throw ModelStoreError.ollamaManifestInvalid(manifest: manifest.path, reason: "\(size) bytes, too large for a manifest")
            }
            data = try Data(contentsOf: manifest)
        } catch let e as ModelStoreError { throw e } catch {
            throw ModelStoreError.ollamaManifestInvalid(manifest: manifest.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let json: OllamaManifestJSON
        do { json = try JSONDecoder().decode(OllamaManifestJSON.self, from: data) } catch {
            throw ModelStoreError.ollamaManifestInvalid(manifest: manifest.path, reason: "not manifest JSON with layers (\(error))")
        }
        var layers: [OllamaLayer] = []
        for l in json.layers {
            let url = try blobURL(digest: l.digest, manifest: manifest)
            guard l.size >= 0 else {
                throw ModelStoreError.ollamaManifestInvalid(manifest: manifest.path, reason: "layer \(l.digest) has size \(l.size)")
            }
            layers.append(OllamaLayer(kind: .init(mediaType: l.mediaType), digest: l.digest, size: l.size, url: url))
        }
        guard let model = layers.first(where: { $0.kind == .model }) else {
            throw ModelStoreError.ollamaNoModelLayer(manifest: manifest.path, mediaTypes: layers.map(\.kind.mediaType))
        }
        for layer in layers { try check(layer, manifest: manifest, hashing: verifyDigests) }
        try Self.requireGGUF(model.url)
        var texts: [OllamaLayer.Kind: String] = [:]
        for layer in layers where layer.kind.isText && texts[layer.kind] == nil && layer.size <= 1 << 20 {
            texts[layer.kind] = try? String(contentsOf: layer.url, encoding: .utf8)
        }
        return OllamaModel(name: name, store: root, manifest: manifest, layers: layers, model: model,
                           template: texts[.template], system: texts[.system], parameters: Self.parameters(texts[.parameters]),
                           info: json.config.flatMap { try? readConfig($0, manifest: manifest) })
    }

    /// The blob of `layer` exists with the manifest's size (and, when `hashing`, its digest).
    func check(_ layer: OllamaLayer, manifest: URL, hashing: Bool) throws {
        let path = layer.url.path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.int64Value else {
            throw ModelStoreError.ollamaBlobMissing(blob: path, manifest: manifest.path)
        }
        guard size == layer.size else { throw ModelStoreError.ollamaBlobSizeMismatch(blob: path, expected: layer.size, actual: size) }
        guard hashing else { return }
        var digest = DigestStream(for: .sha256(""), byteCount: size)
        do { try digest.update(file: layer.url, byteCount: size) } catch {
            throw ModelStoreError.cacheIO(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let actual = "sha256:" + digest.finalize()
        guard actual == layer.digest.lowercased() else {
            throw ModelStoreError.ollamaDigestMismatch(blob: path, expected: layer.digest, actual: actual)
        }
    }

    /// Throws unless the file starts with the GGUF magic.
    static func requireGGUF(_ url: URL) throws {
        let handle = try? FileHandle(forReadingFrom: url)
        defer { try? handle?.close() }
        guard let magic = try? handle?.read(upToCount: 4), magic == Data("GGUF".utf8) else {
            throw ModelStoreError.ollamaNotGGUF(blob: url.path)
        }
    }

    /// The config blob's fields (small JSON; nil when absent or unreadable).
    func readConfig(_ layer: OllamaManifestJSON.Layer, manifest: URL) throws -> OllamaModelInfo? {
        let url = try blobURL(digest: layer.digest, manifest: manifest)
        guard layer.size <= 1 << 20, let data = try? Data(contentsOf: url),
              let c = try? JSONDecoder().decode(OllamaConfigJSON.self, from: data) else { return nil }
        return OllamaModelInfo(format: c.model_format, family: c.model_family, parameterSize: c.model_type, fileType: c.file_type)
    }

    /// A params layer's entries, each value as compact JSON text (`0.7`, `["<|im_end|>"]`).
    static func parameters(_ text: String?) -> [String: String] {
        guard let text, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (key, value) in object {
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                out[key] = String(decoding: data, as: UTF8.self)
            }
        }
        return out
    }

    /// Up to five names of the store closest to `name`: same model first (another tag), then by
    /// edit distance of the spelled name.
    static func nearest(to name: OllamaModelName, in all: [OllamaModelName], count: Int = 5) -> [String] {
        let wanted = name.description.lowercased()
        return all.map { candidate -> (Int, Int, String) in
            let sameModel = candidate.model.lowercased() == name.model.lowercased() ? 0 : 1
            return (sameModel, editDistance(candidate.description.lowercased(), wanted), candidate.description)
        }
        .sorted { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        .prefix(count).map(\.2)
    }
}

/// Levenshtein distance (insertions, deletions, substitutions), over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var row = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = row
    }
    return previous[b.count]
}
