// `hf:` downloads from a hub imitated on loopback (FakeHub): only the files a model needs,
// laid out as huggingface_hub lays them out, loading to the same logits as the folder served;
// a transfer cut mid-file resumed with Range; a wrong hash refused without a file left under
// its final name; 401 and 404 turned into errors that say what to do. Nothing leaves 127.0.0.1.
import XCTest
import Foundation
import TestSupport
@testable import Llama
@testable import ModelStores

final class HubDownloadTests: XCTestCase {
    var dir: URL!
    var hub: FakeHub!
    var cache: URL { dir.appendingPathComponent("hub") }
    let repo = "tiny-org/tiny-llama"
    var repoFolder: URL { cache.appendingPathComponent("models--tiny-org--tiny-llama") }

    override func setUpWithError() throws {
        dir = try StoreFixtures.temporaryDirectory(self)
        hub = try FakeHub()
        hub.add(repo, files: try StoreFixtures.tinyRepositoryFiles(), commit: StoreFixtures.commit)
    }

    override func tearDown() {
        hub = nil
    }

    func environment(_ extra: [String: String] = [:]) -> ModelStoreEnvironment {
        StoreFixtures.environment(dir, endpoint: hub.endpoint, extra: extra)
    }

    /// Collects progress reports from the transfer threads.
    final class Progress: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [DownloadProgress] = []
        var events: [DownloadProgress] { lock.withLock { all } }
        var handler: DownloadProgressHandler { { p in self.lock.withLock { self.all.append(p) } } }
    }

    func resolver(_ extra: [String: String] = [:], progress: Progress? = nil, attempts: Int = 5) -> ModelResolver {
        var r = ModelResolver(environment: environment(extra), progress: progress?.handler)
        r.downloadAttempts = attempts
        return r
    }

    func error(_ body: () throws -> Any) -> ModelStoreError? {
        do { _ = try body(); return nil } catch { return error as? ModelStoreError }
    }

    func testDownloadLaysOutTheCacheAndLoadsLikeTheFolder() throws {
        let progress = Progress()
        let resolved = try resolver(progress: progress).resolve("hf:\(repo)")
        let snapshot = repoFolder.appendingPathComponent("snapshots/\(StoreFixtures.commit)")
        XCTAssertEqual(resolved.path, snapshot.path)
        guard case let .huggingFace(s) = resolved.origin else { return XCTFail() }
        let wanted = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
        XCTAssertEqual(s.downloaded.sorted(), wanted)
        // Only what a model needs was asked for: no .bin, ONNX, README or original/ copies.
        let asked = Set(hub.requests.map(\.path))
        for f in ["pytorch_model.bin", "onnx/model.onnx", "README.md", ".gitattributes", "original/consolidated.safetensors"] {
            XCTAssertFalse(asked.contains { $0.hasSuffix("/" + f) }, f)
        }
        // huggingface_hub's layout: refs/main, relative links into blobs named by etag, nothing partial.
        XCTAssertEqual(try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8), StoreFixtures.commit)
        let files = try StoreFixtures.tinyRepositoryFiles()
        for f in wanted {
            let etag = FakeHub.etag(f, files[f]!)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent(f).path), "../../blobs/\(etag)")
            XCTAssertEqual(try Data(contentsOf: repoFolder.appendingPathComponent("blobs/\(etag)")), files[f])
        }
        XCTAssertEqual(FakeHub.etag("model.safetensors", files["model.safetensors"]!).count, 64, "LFS files by sha256")
        XCTAssertEqual(FakeHub.etag("config.json", files["config.json"]!).count, 40, "git files by blob sha1")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path)
        XCTAssertFalse(blobs.contains { $0.hasSuffix(".incomplete") })
        // The token never went to the CDN (another host); the LFS bytes came from there.
        XCTAssertTrue(hub.cdn.requests.contains { $0.path.hasSuffix("/model.safetensors") })
        // Progress: started, growing, finished at the file's size, for every file.
        let events = progress.events
        for f in wanted {
            let mine = events.filter { $0.file == f }
            XCTAssertEqual(mine.first?.event, .started, f)
            XCTAssertEqual(mine.last?.event, .finished, f)
            XCTAssertEqual(mine.last?.bytesDone, Int64(files[f]!.count), f)
            XCTAssertEqual(mine.map(\.bytesDone), mine.map(\.bytesDone).sorted(), f)
        }
        // The downloaded folder loads to the same logits as the folder served.
        let source = try ModelSource.open(resolved)
        let direct = try ModelLoader.loadNetwork(folder: StoreFixtures.tinyLlama)
        XCTAssertEqual(try StoreFixtures.logits(ModelLoader.loadNetwork(source, options: LoadOptions())), try StoreFixtures.logits(direct))
        XCTAssertNoThrow(try ModelLoader.load(source), "tokenizer files came too")
        // A second resolution is served by the cache alone.
        hub.hub.clearRequests()
        hub.cdn.clearRequests()
        XCTAssertEqual(try resolver().resolve("hf:\(repo)").path, snapshot.path)
        XCTAssertEqual(hub.requests.count, 0)
    }

    func testShardedCheckpointFetchesTheIndexedShardsOnly() throws {
        hub.add("o/sharded", files: try StoreFixtures.shardedRepositoryFiles(in: dir), commit: StoreFixtures.otherCommit)
        let source = try ModelSource.open("hf:o/sharded", environment: environment())
        guard case let .huggingFace(s) = source.origin else { return XCTFail() }
        XCTAssertTrue(s.downloaded.contains("model.safetensors.index.json"))
        XCTAssertTrue(s.downloaded.contains("model-00001-of-00002.safetensors"))
        XCTAssertTrue(s.downloaded.contains("model-00002-of-00002.safetensors"))
        XCTAssertFalse(s.downloaded.contains("consolidated.safetensors"))
        XCTAssertFalse(hub.requests.contains { $0.path.hasSuffix("/consolidated.safetensors") })
        let direct = try ModelLoader.loadNetwork(folder: StoreFixtures.tinyLlama)
        XCTAssertEqual(try StoreFixtures.logits(ModelLoader.loadNetwork(source, options: LoadOptions())), try StoreFixtures.logits(direct))
    }

    func testBrokenTransferResumesWithRange() throws {
        hub.cut("model.safetensors", after: 100_000)
        let resolved = try resolver().resolve("hf:\(repo)")
        let gets = hub.cdn.requests.filter { $0.method == "GET" && $0.path.hasSuffix("/model.safetensors") }
        XCTAssertEqual(gets.count, 2)
        XCTAssertNil(gets[0].headers["range"])
        XCTAssertEqual(gets[1].headers["range"], "bytes=100000-")
        let direct = try ModelLoader.loadNetwork(folder: StoreFixtures.tinyLlama)
        XCTAssertEqual(try StoreFixtures.logits(ModelLoader.loadNetwork(ModelSource.open(resolved), options: LoadOptions())),
                       try StoreFixtures.logits(direct))
    }

    func testPartialDownloadIsLeftForTheNextRunToResume() throws {
        hub.cut("model.safetensors", after: 150_000, times: 2)
        let files = try StoreFixtures.tinyRepositoryFiles()
        let etag = FakeHub.etag("model.safetensors", files["model.safetensors"]!)
        let partial = repoFolder.appendingPathComponent("blobs/\(etag).incomplete")
        guard case let .hubNetwork(_, reason)? = error({ try resolver(attempts: 1).resolve("hf:\(repo)") }) else { return XCTFail() }
        XCTAssertTrue(reason.contains("resume"), reason)
        XCTAssertEqual(try Data(contentsOf: partial), files["model.safetensors"]!.prefix(150_000))
        // The next run (still cut once, after 150 000 more bytes) resumes twice and completes.
        hub.cdn.clearRequests()
        let progress = Progress()
        XCTAssertNoThrow(try resolver(progress: progress).resolve("hf:\(repo)"))
        XCTAssertEqual(hub.cdn.requests.filter { $0.method == "GET" }.compactMap { $0.headers["range"] },
                       ["bytes=150000-", "bytes=300000-"])
        XCTAssertEqual(progress.events.first { $0.file == "model.safetensors" }?.bytesDone, 150_000, "resumed, not restarted")
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
        XCTAssertEqual(try Data(contentsOf: repoFolder.appendingPathComponent("blobs/\(etag)")), files["model.safetensors"])
    }

    func testWrongHashIsRefusedAndNothingKeepsTheFinalName() throws {
        hub.announceWrongHash("model.safetensors")
        let announced = SHA256.hash(Array("something else".utf8)).hexString
        guard case let .hubHashMismatch(file, _, expected, actual)? = error({ try resolver().resolve("hf:\(repo)") }) else { return XCTFail() }
        XCTAssertEqual(file, "model.safetensors")
        XCTAssertEqual(expected, "sha256 \(announced)")
        XCTAssertEqual(actual, FakeHub.etag("model.safetensors", try StoreFixtures.tinyRepositoryFiles()["model.safetensors"]!))
        let blobs = repoFolder.appendingPathComponent("blobs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: blobs.appendingPathComponent(announced).path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: blobs.appendingPathComponent(announced + ".incomplete").path))
        let link = repoFolder.appendingPathComponent("snapshots/\(StoreFixtures.commit)/model.safetensors")
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: link.path))
    }

    func testUnauthorizedSaysHFToken() throws {
        hub.requireToken("hf_right")
        let missing = error { try resolver().resolve("hf:\(repo)") }
        guard case .hubUnauthorized(repo, _, false, _)? = missing else { return XCTFail("\(String(describing: missing))") }
        XCTAssertTrue(missing!.description.contains("set HF_TOKEN"), missing!.description)
        let wrong = error { try resolver(["HF_TOKEN": "hf_wrong"]).resolve("hf:\(repo)") }
        guard case .hubUnauthorized(repo, _, true, _)? = wrong else { return XCTFail("\(String(describing: wrong))") }
        XCTAssertTrue(wrong!.description.contains("HF_TOKEN was refused"), wrong!.description)
        XCTAssertNoThrow(try resolver(["HF_TOKEN": "hf_right"]).resolve("hf:\(repo)"))
        XCTAssertTrue(hub.hub.requests.allSatisfy { $0.headers["authorization"] == nil || $0.headers["authorization"]!.hasPrefix("Bearer ") })
        XCTAssertFalse(hub.cdn.requests.isEmpty)
        XCTAssertTrue(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil }, "the token stays with the hub's host")
    }

    func testNotFoundErrors() throws {
        XCTAssertEqual(error { try resolver().resolve("hf:nobody/nothing") },
                       .hubRepositoryNotFound(repository: "nobody/nothing", url: "\(hub.endpoint)/api/models/nobody/nothing/revision/main",
                                              tokenSent: false))
        XCTAssertEqual(error { try resolver().resolve("hf:\(repo)@v9") },
                       .hubRevisionNotFound(repository: repo, revision: "v9", url: "\(hub.endpoint)/api/models/\(repo)/revision/v9"))
        let gguf = dir.appendingPathComponent("t.gguf")
        try StoreFixtures.writeTinyGGUF(to: gguf)
        let bytes = try Data(contentsOf: gguf)
        hub.add("o/tiny-GGUF", files: ["tiny-f32.gguf": bytes, "tiny-copy.gguf": bytes, "README.md": Data()])
        XCTAssertEqual(error { try resolver().resolve("hf:o/tiny-GGUF/tiny-q4.gguf") },
                       .hubFileNotFound(repository: "o/tiny-GGUF", revision: "main", file: "tiny-q4.gguf",
                                        available: ["tiny-copy.gguf", "tiny-f32.gguf"]))
        guard case let .hubNotAModel(_, _, reason)? = error({ try resolver().resolve("hf:o/tiny-GGUF") }) else { return XCTFail() }
        XCTAssertTrue(reason.contains("hf:o/tiny-GGUF/tiny-copy.gguf"), reason)
        // Named, the one file is all that is fetched, and it opens as a GGUF.
        hub.hub.clearRequests()
        let source = try ModelSource.open("hf:o/tiny-GGUF/tiny-f32.gguf", environment: environment())
        XCTAssertEqual(source.format, .gguf)
        XCTAssertFalse(hub.requests.contains { $0.path.hasSuffix("tiny-copy.gguf") })
        hub.add("o/pytorch", files: ["config.json": Data("{}".utf8), "pytorch_model.bin": Data([1])])
        guard case let .hubNotAModel(_, _, why)? = error({ try resolver().resolve("hf:o/pytorch") }) else { return XCTFail() }
        XCTAssertTrue(why.contains("pytorch_model.bin"), why)
    }

    func testFileNamesFromTheEndpointCannotLeaveTheSnapshot() throws {
        var files = try StoreFixtures.tinyRepositoryFiles()
        files["model.safetensors"] = nil
        files["model.safetensors.index.json"] = Data(#"{"weight_map": {"model.embed_tokens.weight": "../../../escape.safetensors"}}"#.utf8)
        hub.add("o/evil", files: files)
        guard case let .hubNotAModel(_, _, reason)? = error({ try resolver().resolve("hf:o/evil") }) else { return XCTFail() }
        XCTAssertTrue(reason.contains("../../../escape.safetensors"), reason)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.appendingPathComponent("escape.safetensors").path))
    }

    func testRevisionRefsAndOfflineAfterDownload() throws {
        hub.add(repo, files: try StoreFixtures.tinyRepositoryFiles(), commit: StoreFixtures.commit, refs: ["v1": StoreFixtures.commit])
        _ = try resolver().resolve("hf:\(repo)@v1")
        XCTAssertEqual(try String(contentsOf: repoFolder.appendingPathComponent("refs/v1"), encoding: .utf8), StoreFixtures.commit)
        XCTAssertFalse(FileManager.default.fileExists(atPath: repoFolder.appendingPathComponent("refs/main").path))
        _ = try resolver().resolve("hf:\(repo)@\(StoreFixtures.commit)")
        let refs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("refs").path)
        XCTAssertEqual(refs, ["v1"], "a commit needs no ref")
        XCTAssertNoThrow(try resolver(["HF_HUB_OFFLINE": "1"]).resolve("hf:\(repo)@v1"))
        // A snapshot that lacks tokenizer.json asks the hub for just that.
        let link = repoFolder.appendingPathComponent("snapshots/\(StoreFixtures.commit)/tokenizer.json")
        try FileManager.default.removeItem(at: link)
        hub.hub.clearRequests()
        hub.cdn.clearRequests()
        guard case let .huggingFace(s) = try resolver().resolve("hf:\(repo)@v1").origin else { return XCTFail() }
        XCTAssertEqual(s.downloaded, ["tokenizer.json"])
        XCTAssertFalse(hub.requests.contains { $0.method == "GET" && $0.path.contains("/resolve/") && !$0.path.hasSuffix("tokenizer.json") })
    }

    /// Loopback download rate of a large file, hashed as it streams (printed, not asserted;
    /// LORIKEET_HUB_BENCH_MB sets the size, default skipped).
    func testLoopbackThroughput() throws {
        guard let mb = ProcessInfo.processInfo.environment["LORIKEET_HUB_BENCH_MB"].flatMap(Int.init) else {
            throw XCTSkip("set LORIKEET_HUB_BENCH_MB to measure")
        }
        var bytes = Data(count: mb << 20)
        bytes.withUnsafeMutableBytes { raw in
            var x: UInt64 = 0x9e3779b97f4a7c15  // xorshift64: incompressible enough, and fast to make
            for i in raw.bindMemory(to: UInt64.self).indices {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                raw.storeBytes(of: x, toByteOffset: i * 8, as: UInt64.self)
            }
        }
        var files = try StoreFixtures.tinyRepositoryFiles()
        files["model-big.safetensors"] = bytes
        files["model.safetensors"] = nil
        hub.add("o/big", files: files.filter { !$0.key.contains("/") && !$0.key.hasSuffix(".bin") })
        final class Times: @unchecked Sendable { var start = Date(), end = Date() }
        let times = Times()
        let r = ModelResolver(environment: environment(), progress: { p in
            guard p.file == "model-big.safetensors" else { return }
            if p.event == .started { times.start = Date() } else if p.event == .finished { times.end = Date() }
        })
        _ = try r.resolve("hf:o/big")
        let s = times.end.timeIntervalSince(times.start)
        print("loopback GET of \(mb) MiB, written and SHA-256 hashed as it streams: \(String(format: "%.2f", s)) s, "
              + "\(String(format: "%.0f", Double(mb) / s)) MiB/s")
    }
}
