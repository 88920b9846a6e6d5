// `--model` / `inspect` given store references, driven in-process: an Ollama store and a hub
// cache laid out in a temporary folder, found through the variables the command reads
// (OLLAMA_MODELS, HF_HUB_CACHE; HF_HUB_OFFLINE so that nothing is fetched). The variables are
// set for the duration of one test and restored: XCTest runs a process's tests one at a time.
import XCTest
import Foundation
@testable import LorikeetCLI
import ModelFormats
import TensorCore

final class ModelReferenceCommandTests: XCTestCase {
    static let testsRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    var work: URL!
    var saved: [String: String?] = [:]

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-refs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let variables = ["OLLAMA_MODELS": work.appendingPathComponent("ollama").path,
                         "HF_HUB_CACHE": work.appendingPathComponent("hub").path, "HF_HUB_OFFLINE": "1"]
        for (k, v) in variables {
            saved[k] = ProcessInfo.processInfo.environment[k]
            setenv(k, v, 1)
        }
    }

    override func tearDownWithError() throws {
        for (k, v) in saved {
            if let v { setenv(k, v, 1) } else { unsetenv(k) }
        }
        try? FileManager.default.removeItem(at: work)
    }

    func lorikeet(_ arguments: [String]) throws -> String {
        var command = try LorikeetCommand.parseAsRoot(arguments)
        return try captureStandardOutput { try command.run() }
    }

    /// The tiny transformers folder and a tokenizer, as a cached snapshot (links into blobs/).
    func layOutHubCache() throws {
        let repo = work.appendingPathComponent("hub/models--o--tiny")
        let commit = String(repeating: "ab", count: 20)
        let files = ["config.json": Self.testsRoot.appendingPathComponent("LlamaTests/Fixtures/tiny_llama/config.json"),
                     "model.safetensors": Self.testsRoot.appendingPathComponent("LlamaTests/Fixtures/tiny_llama/model.safetensors"),
                     "tokenizer.json": Self.testsRoot.appendingPathComponent("TokenizersTests/Fixtures/bpe_gpt2.json")]
        let fm = FileManager.default
        try fm.createDirectory(at: repo.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("snapshots/\(commit)"), withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        for (i, (name, source)) in files.sorted(by: { $0.key < $1.key }).enumerated() {
            try fm.copyItem(at: source, to: repo.appendingPathComponent("blobs/blob\(i)"))
            try fm.createSymbolicLink(atPath: repo.appendingPathComponent("snapshots/\(commit)/\(name)").path,
                                      withDestinationPath: "../../blobs/blob\(i)")
        }
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
    }

    /// A small GGUF as the model layer, and a template and params layer, under tiny:latest.
    func layOutOllamaStore() throws {
        let store = work.appendingPathComponent("ollama")
        try FileManager.default.createDirectory(at: store.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        try w.add("token_embd.weight", try Tensor(shape: [4, 8], values: (0..<32).map(Float.init)))
        let gguf = work.appendingPathComponent("t.gguf")
        try w.write(to: gguf)
        var layers: [[String: Any]] = []
        for (data, type) in [(try Data(contentsOf: gguf), "model"), (Data("{{ .Prompt }}".utf8), "template"),
                             (Data(#"{"temperature":0.5}"#.utf8), "params")] {
            let digest = blobName(data)
            try data.write(to: store.appendingPathComponent("blobs/sha256-\(digest)"))
            layers.append(["mediaType": "application/vnd.ollama.image.\(type)", "digest": "sha256:\(digest)", "size": data.count])
        }
        let manifest = store.appendingPathComponent("manifests/registry.ollama.ai/library/tiny/latest")
        try FileManager.default.createDirectory(at: manifest.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: ["schemaVersion": 2, "layers": layers]).write(to: manifest)
    }

    /// A 64-hex blob name derived from the bytes (FNV-1a, repeated). The store checks sizes,
    /// not digests, unless asked to verify, so it need not be the SHA-256.
    func blobName(_ data: Data) -> String {
        var h: UInt64 = 1469598103934665603
        for b in data { h = (h ^ UInt64(b)) &* 1099511628211 }
        return String(repeating: String(format: "%016llx", h), count: 4)
    }

    func testInspectHubReferenceShowsTheSnapshotThenTheFolder() throws {
        try layOutHubCache()
        let text = try lorikeet(["inspect", "hf:o/tiny"])
        XCTAssertTrue(text.contains("revision:     main → commit " + String(repeating: "ab", count: 20)), text)
        XCTAssertTrue(text.contains("model.safetensors"), text)
        XCTAssertTrue(text.contains("downloaded:   nothing (all cached)"), text)
        XCTAssertTrue(text.contains("format:       folder"), text)
        let json = try JSONSerialization.jsonObject(with: Data(lorikeet(["inspect", "hf:o/tiny", "--json"]).utf8)) as! [String: Any]
        let origin = json["origin"] as! [String: Any]
        XCTAssertEqual(origin["store"] as? String, "huggingface")
        XCTAssertEqual(origin["repository"] as? String, "o/tiny")
        XCTAssertEqual((origin["files"] as! [Any]).count, 3)
        XCTAssertEqual(json["format"] as? String, "folder")
        // Every --model takes it too.
        XCTAssertFalse(try lorikeet(["tokenize", "--model", "hf:o/tiny", "--text", "hello"]).isEmpty)
    }

    func testInspectOllamaReferenceShowsTheLayersThenTheGGUF() throws {
        try layOutOllamaStore()
        let text = try lorikeet(["inspect", "ollama:tiny"])
        XCTAssertTrue(text.contains("ollama:tiny:latest"), text)
        XCTAssertTrue(text.contains("manifest:"), text)
        XCTAssertTrue(text.contains("template:     {{ .Prompt }}"), text)
        XCTAssertTrue(text.contains("params:       temperature=0.5"), text)
        XCTAssertTrue(text.contains("format:       gguf v3"), text)
        let json = try JSONSerialization.jsonObject(with: Data(lorikeet(["inspect", "ollama:tiny", "--json"]).utf8)) as! [String: Any]
        let origin = json["origin"] as! [String: Any]
        XCTAssertEqual(origin["store"] as? String, "ollama")
        XCTAssertEqual((origin["layers"] as! [[String: Any]]).map { $0["kind"] as! String }, ["model", "template", "params"])
        XCTAssertThrowsError(try lorikeet(["inspect", "ollama:tiny:nope"])) { e in
            XCTAssertTrue("\(e)".contains("nearest: tiny:latest"), "\(e)")
        }
    }
}
