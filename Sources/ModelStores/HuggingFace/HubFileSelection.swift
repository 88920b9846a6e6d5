// Which files of a hub repository make a model Lorikeet opens, decided in one place for both
// the remote file list and a local snapshot. A folder model is config.json, the tokenizer and
// generation files, and the safetensors weights the loader will read (the index's shards, else
// model.safetensors, else every top-level *.safetensors) — never *.bin, *.pt, ONNX or
// `original/` copies. A GGUF model is one .gguf file: the one named, or the only one there.
import Foundation

/// How a repository holds the model.
enum HubModelLayout: Sendable, Equatable {
    /// A Hugging Face folder (config.json + safetensors).
    case folder
    /// One GGUF file, by its path in the repository.
    case gguf(String)
}

enum HubFileSelection {
    /// Small files a folder model needs or may use, fetched when the repository has them.
    static let folderFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                              "special_tokens_map.json", "chat_template.jinja", "tokenizer.model"]
    /// The shard index of a sharded checkpoint.
    static let index = "model.safetensors.index.json"
    /// The single-file checkpoint.
    static let single = "model.safetensors"

    /// The layout of the repository whose files are `files` (paths from its root).
    static func layout(for ref: HubModelReference, files: [String]) throws -> HubModelLayout {
        let ggufs = files.filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
        if let wanted = ref.file {
            if files.contains(wanted) { return .gguf(wanted) }
            if let match = files.first(where: { $0.lowercased() == wanted.lowercased() }) { return .gguf(match) }
            throw ModelStoreError.hubFileNotFound(repository: ref.repository, revision: ref.revision, file: wanted, available: ggufs)
        }
        if files.contains("config.json") {
            guard !weights(in: files, shards: nil).isEmpty || files.contains(index) else {
                let other = files.filter { [".bin", ".pt", ".pth", ".onnx", ".h5", ".msgpack"].contains(where: $0.hasSuffix) }
                throw ModelStoreError.hubNotAModel(repository: ref.repository, revision: ref.revision, reason:
                    "has no safetensors weights" + (other.isEmpty ? "" : " (only \(other.prefix(3).joined(separator: ", ")))")
                    + "; Lorikeet reads safetensors or GGUF")
            }
            return .folder
        }
        switch ggufs.count {
        case 1: return .gguf(ggufs[0])
        case 0:
            throw ModelStoreError.hubNotAModel(repository: ref.repository, revision: ref.revision,
                                               reason: "has no config.json with safetensors weights and no .gguf file")
        default:
            throw ModelStoreError.hubNotAModel(repository: ref.repository, revision: ref.revision, reason:
                "holds \(ggufs.count) GGUF files; name one, e.g. hf:\(ref.repository)/\(ggufs[0]): " + ggufs.joined(separator: ", "))
        }
    }

    /// The folder's small files that `files` has, config.json first, the index last.
    static func metadata(in files: [String]) -> [String] {
        folderFiles.filter(files.contains) + (files.contains(index) ? [index] : [])
    }

    /// The weight files the loader will read: the index's shards when there is an index
    /// (`shards`), else model.safetensors, else every top-level *.safetensors.
    static func weights(in files: [String], shards: [String]?) -> [String] {
        if let shards { return Array(Set(shards)).sorted() }
        if files.contains(single) { return [single] }
        return files.filter { !$0.contains("/") && $0.hasSuffix(".safetensors") }.sorted()
    }

    /// The shard file names of an index file's weight_map (nil when it cannot be read).
    static func shards(ofIndex url: URL) -> [String]? {
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: String] else { return nil }
        return Array(Set(map.values)).sorted()
    }

    /// What a cached snapshot lacks to be opened (empty when complete), and what to open.
    /// `requireTokenizer` also asks for tokenizer.json (when the hub can be asked whether it has
    /// one; offline, a folder without it still opens for `estimate` or `inspect`).
    static func local(_ ref: HubModelReference, commit: String, cache: HubCache,
                      requireTokenizer: Bool) -> (missing: [String], layout: HubModelLayout) {
        let has = { (f: String) in cache.snapshotHas(ref.repository, commit: commit, file: f) }
        if let file = ref.file { return (has(file) ? [] : [file], .gguf(file)) }
        let top = cache.snapshotFiles(ref.repository, commit: commit)
        if !top.contains("config.json") {
            let ggufs = top.filter { $0.lowercased().hasSuffix(".gguf") }
            if ggufs.count == 1 { return ([], .gguf(ggufs[0])) }
            return (["config.json", "*.safetensors"], .folder)
        }
        var missing: [String] = []
        if top.contains(index) {
            let folder = cache.snapshotFolder(ref.repository, commit: commit)
            guard let shards = shards(ofIndex: folder.appendingPathComponent(index)) else { return ([index + " (unreadable)"], .folder) }
            missing += shards.filter { !has($0) }
        } else if weights(in: top, shards: nil).isEmpty {
            missing.append("*.safetensors")
        }
        if requireTokenizer && !top.contains("tokenizer.json") { missing.append("tokenizer.json") }
        return (missing, .folder)
    }
}
