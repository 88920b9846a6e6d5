// A Hugging Face model folder's weights: sharded (model.safetensors.index.json, whose
// weight_map names the shard of each tensor) or a single model.safetensors, or failing
// both, every *.safetensors file in the folder. Each shard is mapped once.
import Foundation
import TensorCore

/// The safetensors weights of a model folder, across shards.
public struct SafetensorsFolder: Sendable {
    /// The folder.
    public let url: URL
    /// Open shards by file name.
    public let shards: [String: SafetensorsFile]
    /// Shard file name for each tensor name.
    public let weightMap: [String: String]
    /// All tensor names, sorted.
    public let names: [String]
    /// `__metadata__` of the first shard (by file name); the index's own `metadata`
    /// (e.g. total_size) is not kept.
    public let metadata: [String: String]

    /// Opens the weights in `url`. Throws when there are none, when the index is malformed
    /// or names a missing shard or tensor, or when a name appears in two shards.
    public init(url: URL) throws {
        self.url = url
        let fm = FileManager.default
        let index = url.appendingPathComponent("model.safetensors.index.json")
        var shards: [String: SafetensorsFile] = [:]
        var weightMap: [String: String] = [:]
        if fm.fileExists(atPath: index.path) {
            let map = try Self.readIndex(index)
            for (tensor, shard) in map {
                if shards[shard] == nil {
                    shards[shard] = try SafetensorsFile(path: url.appendingPathComponent(shard).path)
                }
                guard shards[shard]!.info(tensor) != nil else {
                    throw FormatError.tensorNotFound(file: url.appendingPathComponent(shard).path, tensor: tensor)
                }
                weightMap[tensor] = shard
            }
        } else {
            var files = ["model.safetensors"]
            if !fm.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) {
                let all = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
                files = all.filter { $0.hasSuffix(".safetensors") }.sorted()
            }
            guard !files.isEmpty else {
                throw FormatError.io(file: url.path, reason: "no model.safetensors, index or *.safetensors file in the folder")
            }
            for f in files {
                let shard = try SafetensorsFile(path: url.appendingPathComponent(f).path)
                shards[f] = shard
                for name in shard.names {
                    guard weightMap.updateValue(f, forKey: name) == nil else {
                        throw FormatError.duplicateName(file: url.appendingPathComponent(f).path, name: name)
                    }
                }
            }
        }
        self.shards = shards
        self.weightMap = weightMap
        names = weightMap.keys.sorted()
        metadata = shards.keys.sorted().first.flatMap { shards[$0]?.metadata } ?? [:]
    }

    /// Reads weight_map from an index file; shard names must be plain file names.
    static func readIndex(_ index: URL) throws -> [String: String] {
        let path = index.path
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: try Data(contentsOf: index), options: [])
        } catch {
            throw FormatError.invalidHeader(file: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let top = json as? [String: Any], let map = top["weight_map"] as? [String: Any] else {
            throw FormatError.invalidHeader(file: path, reason: "no weight_map object")
        }
        var out: [String: String] = [:]
        for (tensor, shard) in map {
            guard let s = shard as? String, !s.isEmpty, !s.contains("/"), !s.contains("\\"), s != "..", s != "." else {
                throw FormatError.invalidHeader(file: path, reason: "weight_map entry for '\(tensor)' is not a plain file name")
            }
            out[tensor] = s
        }
        return out
    }

    /// The shard holding tensor `name`, or nil.
    public func file(containing name: String) -> SafetensorsFile? {
        weightMap[name].flatMap { shards[$0] }
    }

    /// Drops the resident pages of tensor `name`'s data once it has been read for the last time.
    public func releasePages(of name: String) { file(containing: name)?.releasePages(of: name) }

    /// The description of tensor `name`, or nil.
    public func info(_ name: String) -> SafetensorsTensorInfo? {
        file(containing: name)?.info(name)
    }

    /// Tensor `name` in its stored dtype (zero-copy where aligned).
    public func tensor(_ name: String) throws -> Tensor {
        guard let f = file(containing: name) else { throw FormatError.tensorNotFound(file: url.path, tensor: name) }
        return try f.tensor(name)
    }
}
