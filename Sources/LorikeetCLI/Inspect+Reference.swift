// `lorikeet inspect ollama:NAME` / `inspect hf:ORG/NAME`: where the reference led — the Ollama
// manifest's layers (model, adapter, template, params, system) or the hub cache's snapshot
// (commit, files and their blobs) — then the GGUF or folder as `inspect` shows any other.
// With --json the store part is the report's "origin" object.
import Foundation
import ModelStores

extension Inspect {
    /// The store part of the JSON report, for the inspection of the resolved path to include.
    @TaskLocal static var originJSON: Data?

    /// Inspects `path` when it is a store reference (and no file of that name exists);
    /// returns false for plain paths.
    func inspectReference() throws -> Bool {
        guard ModelReference.isStoreReference(path), !FileManager.default.fileExists(atPath: path) else { return false }
        let resolved = try resolveModel(path)
        var inner = self
        inner.path = resolved.path
        let origin = Self.describe(resolved.origin)
        if json {
            let data = try JSONSerialization.data(withJSONObject: origin, options: [.sortedKeys])
            try Self.$originJSON.withValue(data) { try inner.run() }
        } else {
            printOrigin(resolved.origin)
            try inner.run()
        }
        return true
    }

    private func printOrigin(_ origin: ModelOrigin) {
        let size = DownloadProgressBar.size
        switch origin {
        case .path:
            return
        case let .ollama(m):
            print(origin.reference ?? path)
            print("  store:        \(m.store.path) (Ollama)")
            print("  manifest:     \(m.manifest.path)")
            if let i = m.info {
                let parts = [("family", i.family), ("size", i.parameterSize), ("file type", i.fileType), ("format", i.format)]
                print("  model:        " + parts.compactMap { k, v in v.map { "\(k) \($0)" } }.joined(separator: ", "))
            }
            print("  layers:")
            for l in m.layers {
                print("    \(l.kind.description.padding(toLength: 10, withPad: " ", startingAt: 0)) \(l.digest.prefix(19))…  "
                      + "\(size(l.size).padding(toLength: 9, withPad: " ", startingAt: 0))  \(l.url.path)")
            }
            if let t = m.template { print("  template:     \(short(t.replacingOccurrences(of: "\n", with: "⏎")))") }
            if let s = m.system { print("  system:       \(short(s.replacingOccurrences(of: "\n", with: "⏎")))") }
            if !m.parameters.isEmpty {
                print("  params:       " + m.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            if !m.adapters.isEmpty { print("  note:         the adapter layers are not applied when Lorikeet loads this model") }
        case let .huggingFace(s):
            print(origin.reference ?? path)
            print("  cache:        \(s.folder.deletingLastPathComponent().deletingLastPathComponent().path) (Hugging Face)")
            print("  revision:     \(s.reference.revision) → commit \(s.commit)")
            print("  snapshot:     \(s.folder.path)")
            print("  files:")
            for f in s.files {
                print("    \(f.name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(size(f.size).padding(toLength: 9, withPad: " ", startingAt: 0))  blobs/\(f.blob.lastPathComponent)")
            }
            print("  downloaded:   " + (s.downloaded.isEmpty ? "nothing (all cached)" : s.downloaded.joined(separator: ", ")))
        }
        print("")
    }

    /// The origin as a JSON object.
    static func describe(_ origin: ModelOrigin) -> [String: Any] {
        switch origin {
        case .path:
            return [:]
        case let .ollama(m):
            var o: [String: Any] = [
                "store": "ollama", "reference": origin.reference ?? "", "models": m.store.path, "manifest": m.manifest.path,
                "layers": m.layers.map { ["kind": $0.kind.description, "media_type": $0.kind.mediaType, "digest": $0.digest,
                                          "size": $0.size, "path": $0.url.path] as [String: Any] },
                "parameters": m.parameters,
            ]
            if let t = m.template { o["template"] = t }
            if let s = m.system { o["system"] = s }
            if let i = m.info {
                o["info"] = ["format": i.format, "family": i.family, "parameter_size": i.parameterSize, "file_type": i.fileType]
                    .compactMapValues { $0 }
            }
            return o
        case let .huggingFace(s):
            return [
                "store": "huggingface", "reference": origin.reference ?? "", "repository": s.reference.repository,
                "revision": s.reference.revision, "commit": s.commit, "snapshot": s.folder.path, "downloaded": s.downloaded,
                "files": s.files.map { ["name": $0.name, "size": $0.size, "blob": $0.blob.path] as [String: Any] },
            ]
        }
    }
}
