// Fixtures of the store tests: the tiny random Llama (transformers-written folder in
// LlamaTests/Fixtures) as hub files and as a GGUF blob, stores and caches laid out on disk the
// way Ollama and huggingface_hub lay them out, and the logits that tell two loads apart.
import Foundation
import XCTest
import TensorCore
import ModelFormats
@testable import Llama
@testable import ModelStores

enum StoreFixtures {
    static let testsRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let tinyLlama = testsRoot.appendingPathComponent("LlamaTests/Fixtures/tiny_llama")
    static let tokenizerJSON = testsRoot.appendingPathComponent("TokenizersTests/Fixtures/bpe_gpt2.json")
    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let otherCommit = "fedcba9876543210fedcba9876543210fedcba98"

    static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-stores-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// The tiny model's files as a hub repository holds them, with files a model does not need
    /// (which must never be requested).
    static func tinyRepositoryFiles() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for f in ["config.json", "generation_config.json", "model.safetensors"] {
            files[f] = try Data(contentsOf: tinyLlama.appendingPathComponent(f))
        }
        files["tokenizer.json"] = try Data(contentsOf: tokenizerJSON)
        files["tokenizer_config.json"] = Data(#"{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}"#.utf8)
        files["README.md"] = Data("# tiny\n".utf8)
        files[".gitattributes"] = Data("*.safetensors filter=lfs\n".utf8)
        files["pytorch_model.bin"] = Data(repeating: 7, count: 1000)
        files["onnx/model.onnx"] = Data(repeating: 8, count: 1000)
        files["original/consolidated.safetensors"] = Data(repeating: 9, count: 1000)
        return files
    }

    /// The tiny model split into two shards with an index, plus a stray top-level checkpoint
    /// the index does not name (Mistral repositories ship one).
    static func shardedRepositoryFiles(in dir: URL) throws -> [String: Data] {
        var files = try tinyRepositoryFiles()
        files["model.safetensors"] = nil
        let source = try SafetensorsFile(path: tinyLlama.appendingPathComponent("model.safetensors").path)
        let names = source.names.sorted()
        var map: [String: String] = [:]
        for (i, part) in [Array(names.prefix(names.count / 2)), Array(names.dropFirst(names.count / 2))].enumerated() {
            let shard = "model-0000\(i + 1)-of-00002.safetensors"
            let url = dir.appendingPathComponent(shard)
            try SafetensorsWriter.write(try part.map { ($0, try source.tensor($0)) }, to: url)
            files[shard] = try Data(contentsOf: url)
            for n in part { map[n] = shard }
        }
        files["model.safetensors.index.json"] = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
        files["consolidated.safetensors"] = Data(repeating: 1, count: 5000)
        return files
    }

    /// Writes the tiny model as a llama GGUF (f32; q/k rows permuted as llama.cpp's converter does).
    static func writeTinyGGUF(to url: URL) throws {
        let folder = try SafetensorsFile(path: tinyLlama.appendingPathComponent("model.safetensors").path)
        let c = try LlamaConfiguration(json: Data(contentsOf: tinyLlama.appendingPathComponent("config.json")), source: "config.json")
        var w = GGUFWriter()
        let u = { (v: Int) in GGUFValue.uint32(UInt32(v)) }
        for (k, v) in [("general.architecture", GGUFValue.string("llama")), ("general.name", .string("tiny")),
                       ("llama.embedding_length", u(c.hiddenSize)), ("llama.feed_forward_length", u(c.intermediateSize)),
                       ("llama.block_count", u(c.layerCount)), ("llama.attention.head_count", u(c.attentionHeads)),
                       ("llama.attention.head_count_kv", u(c.kvHeads)), ("llama.attention.key_length", u(c.headDim)),
                       ("llama.context_length", u(c.maxPositions)), ("llama.vocab_size", u(c.vocabularySize)),
                       ("llama.attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)), ("llama.rope.freq_base", .float32(c.ropeTheta)),
                       ("tokenizer.ggml.model", .string("gpt2")),
                       ("tokenizer.ggml.tokens", .strings((0..<c.vocabularySize).map { "t\($0)" }))] {
            w.set(k, v)
        }
        for name in folder.names.sorted() {
            guard let g = LlamaTensorNames.ggufName(forHuggingFace: name) else { continue }
            var t = try folder.tensor(name)
            if let p = LlamaTensorNames.permutation(forGGUF: g) {
                t = try LlamaPermutation.permute(t, heads: p == .query ? c.attentionHeads : c.kvHeads)
            }
            try w.add(g, t)
        }
        try w.write(to: url)
    }

    /// Logits of a fixed sequence (the order of a reference parity check, at tiny scale).
    static func logits(_ model: LlamaModel) throws -> [Float] {
        let ids: [Int32] = [1, 17, 42, 99, 3, 250, 7]
        let tape = Tape(recordsGradients: false)
        return tape.value(try model.logits(tape, ids: ids, batch: 1, length: ids.count)).floats
    }

    /// The network of a GGUF source (weights as loaded, no tokenizer needed).
    static func network(gguf source: ModelSource) throws -> LlamaModel {
        let weights = try ModelLoader.weights(gguf: source.gguf!, configuration: source.configuration)
        return try LlamaModel(configuration: source.configuration, weights: weights, source: source.path)
    }

    /// Lays `files` out in a hub cache as huggingface_hub does: blobs named by etag,
    /// snapshot entries as relative symlinks, refs/main.
    static func layOutCache(_ root: URL, repository: String, commit: String, files: [String: Data], ref: String? = "main") throws {
        let repo = root.appendingPathComponent(HubCache.folderName(repository))
        let fm = FileManager.default
        try fm.createDirectory(at: repo.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        for (name, data) in files {
            let etag = FakeHub.etag(name, data)
            try data.write(to: repo.appendingPathComponent("blobs/\(etag)"))
            let link = repo.appendingPathComponent("snapshots/\(commit)/\(name)")
            try fm.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            let up = String(repeating: "../", count: name.split(separator: "/").count + 1)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "\(up)blobs/\(etag)")
        }
        if let ref {
            try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
            try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/\(ref)"))
        }
    }

    /// An environment whose stores live under `dir`, the hub at `endpoint`, nothing else.
    static func environment(_ dir: URL, endpoint: String = "http://127.0.0.1:9", extra: [String: String] = [:]) -> ModelStoreEnvironment {
        ModelStoreEnvironment(["HOME": dir.appendingPathComponent("home").path, "HF_HUB_CACHE": dir.appendingPathComponent("hub").path,
                               "HF_ENDPOINT": endpoint, "OLLAMA_MODELS": dir.appendingPathComponent("ollama").path]
            .merging(extra) { $1 })
    }
}
