// `hf:` references served from a cache laid out by the test exactly as huggingface_hub lays
// it out (refs/main, snapshots/<commit>/ symlinks into blobs/): found with the network never
// touched (a recording server stands in for the hub and must see no request), and what an
// offline run cannot find named.
import XCTest
import Foundation
import TestSupport
@testable import Llama
@testable import ModelStores

final class HubCacheTests: XCTestCase {
    var dir: URL!
    var cache: URL { dir.appendingPathComponent("hub") }
    let repo = "tiny-org/tiny-llama"

    override func setUpWithError() throws {
        dir = try StoreFixtures.temporaryDirectory(self)
    }

    /// The model files of the tiny repository (what a Python user's download leaves).
    func modelFiles() throws -> [String: Data] {
        try StoreFixtures.tinyRepositoryFiles().filter { HubFileSelection.folderFiles.contains($0.key) || $0.key == "model.safetensors" }
    }

    func testCachedSnapshotIsUsedWithoutTheNetwork() throws {
        try StoreFixtures.layOutCache(cache, repository: repo, commit: StoreFixtures.commit, files: modelFiles())
        let watcher = try LoopbackHTTPServer { _ in .init(status: 500) }
        defer { watcher.stop() }
        for extra in [[:], ["HF_HUB_OFFLINE": "1"]] {
            let env = StoreFixtures.environment(dir, endpoint: watcher.baseURL, extra: extra)
            let source = try ModelSource.open("hf:\(repo)", environment: env)
            XCTAssertEqual(source.format, .safetensorsFolder)
            XCTAssertEqual(source.path, cache.appendingPathComponent("models--tiny-org--tiny-llama/snapshots/\(StoreFixtures.commit)").path)
            XCTAssertEqual(source.baseModelName, repo)
            guard case let .huggingFace(snapshot) = source.origin else { return XCTFail() }
            XCTAssertEqual(snapshot.commit, StoreFixtures.commit)
            XCTAssertEqual(snapshot.downloaded, [])
            XCTAssertEqual(snapshot.files.map(\.name), ["config.json", "generation_config.json", "model.safetensors",
                                                        "tokenizer.json", "tokenizer_config.json"])
            let weights = snapshot.files.first { $0.name == "model.safetensors" }!
            XCTAssertEqual(weights.blob.deletingLastPathComponent().lastPathComponent, "blobs")
            XCTAssertEqual(weights.size, Int64(try Data(contentsOf: StoreFixtures.tinyLlama.appendingPathComponent("model.safetensors")).count))
            let direct = try ModelLoader.loadNetwork(folder: StoreFixtures.tinyLlama)
            XCTAssertEqual(try StoreFixtures.logits(ModelLoader.loadNetwork(source, options: LoadOptions())), try StoreFixtures.logits(direct))
        }
        XCTAssertEqual(watcher.requests.count, 0, "the hub must not be contacted")
    }

    func testRevisionsBranchTagAndCommit() throws {
        try StoreFixtures.layOutCache(cache, repository: repo, commit: StoreFixtures.otherCommit, files: modelFiles(), ref: "v1")
        let env = StoreFixtures.environment(dir, extra: ["HF_HUB_OFFLINE": "1"])
        let byTag = try ModelResolver(environment: env).resolve("hf:\(repo)@v1")
        let byCommit = try ModelResolver(environment: env).resolve("hf:\(repo)@\(StoreFixtures.otherCommit)")
        XCTAssertEqual(byTag.path, byCommit.path)
        XCTAssertTrue(byTag.path.hasSuffix(StoreFixtures.otherCommit))
        // main was never fetched: offline, that is what is missing.
        XCTAssertThrowsError(try ModelResolver(environment: env).resolve("hf:\(repo)")) { e in
            guard case let .hubOffline(r, rev, _, missing)? = e as? ModelStoreError else { return XCTFail("\(e)") }
            XCTAssertEqual([r, rev], [repo, "main"])
            XCTAssertEqual(missing, ["refs/main (nothing of this revision is cached)"])
            XCTAssertTrue("\(e)".contains("HF_HUB_OFFLINE"))
        }
    }

    func testOfflineNamesWhatIsMissing() throws {
        var files = try modelFiles()
        files["model.safetensors"] = nil
        try StoreFixtures.layOutCache(cache, repository: repo, commit: StoreFixtures.commit, files: files)
        let env = StoreFixtures.environment(dir, extra: ["HF_HUB_OFFLINE": "1"])
        XCTAssertThrowsError(try ModelResolver(environment: env).resolve("hf:\(repo)")) { e in
            XCTAssertEqual(e as? ModelStoreError, .hubOffline(repository: repo, revision: "main",
                                                            cache: self.cache.appendingPathComponent("models--tiny-org--tiny-llama/snapshots/\(StoreFixtures.commit)").path,
                                                            missing: ["*.safetensors"]))
        }
        // A shard the index names but the snapshot lacks, and a link whose blob was deleted.
        let sharded = try StoreFixtures.shardedRepositoryFiles(in: dir)
        let keep = sharded.filter { HubFileSelection.folderFiles.contains($0.key) || $0.key.hasPrefix("model") }
        try StoreFixtures.layOutCache(cache, repository: "o/sharded", commit: StoreFixtures.commit,
                                      files: keep.filter { $0.key != "model-00002-of-00002.safetensors" })
        XCTAssertThrowsError(try ModelResolver(environment: env).resolve("hf:o/sharded")) { e in
            guard case let .hubOffline(_, _, _, missing)? = e as? ModelStoreError else { return XCTFail("\(e)") }
            XCTAssertEqual(missing, ["model-00002-of-00002.safetensors"])
        }
        try StoreFixtures.layOutCache(cache, repository: "o/gone", commit: StoreFixtures.commit, files: try modelFiles())
        let link = cache.appendingPathComponent("models--o--gone/snapshots/\(StoreFixtures.commit)/model.safetensors")
        try FileManager.default.removeItem(at: link.resolvingSymlinksInPath())
        XCTAssertThrowsError(try ModelResolver(environment: env).resolve("hf:o/gone")) { e in
            guard case let .hubOffline(_, _, _, missing)? = e as? ModelStoreError else { return XCTFail("\(e)") }
            XCTAssertEqual(missing, ["*.safetensors"])
        }
    }

    func testCachedGGUFFileByName() throws {
        let gguf = dir.appendingPathComponent("t.gguf")
        try StoreFixtures.writeTinyGGUF(to: gguf)
        try StoreFixtures.layOutCache(cache, repository: "o/tiny-GGUF", commit: StoreFixtures.commit,
                                      files: ["tiny-f32.gguf": try Data(contentsOf: gguf), "README.md": Data("x".utf8)])
        let env = StoreFixtures.environment(dir, extra: ["HF_HUB_OFFLINE": "1"])
        let named = try ModelSource.open("hf:o/tiny-GGUF/tiny-f32.gguf", environment: env)
        XCTAssertEqual(named.format, .gguf)
        XCTAssertTrue(named.path.hasSuffix("snapshots/\(StoreFixtures.commit)/tiny-f32.gguf"))
        // The only GGUF of a repository without config.json needs no name.
        XCTAssertEqual(try ModelSource.open("hf:o/tiny-GGUF", environment: env).path, named.path)
        XCTAssertThrowsError(try ModelSource.open("hf:o/tiny-GGUF/other.gguf", environment: env)) { e in
            guard case let .hubOffline(_, _, _, missing)? = e as? ModelStoreError else { return XCTFail("\(e)") }
            XCTAssertEqual(missing, ["other.gguf"])
        }
    }
}

extension HubCacheTests {
    func testExportFromASnapshotWritesFilesNotLinks() throws {
        try StoreFixtures.layOutCache(cache, repository: repo, commit: StoreFixtures.commit, files: modelFiles())
        let loaded = try ModelLoader.load(ModelSource.open("hf:\(repo)", environment: StoreFixtures.environment(dir, extra: ["HF_HUB_OFFLINE": "1"])))
        let out = dir.appendingPathComponent("exported")
        try ModelExport.writeFolder(weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration,
                                    source: loaded, to: out)
        for name in try FileManager.default.contentsOfDirectory(atPath: out.path) {
            let type = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(name).path)[.type] as? FileAttributeType
            XCTAssertEqual(type, .typeRegular, name)
        }
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("generation_config.json")),
                       try Data(contentsOf: StoreFixtures.tinyLlama.appendingPathComponent("generation_config.json")))
    }
}
