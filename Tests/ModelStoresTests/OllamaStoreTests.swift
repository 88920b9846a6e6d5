// `ollama:` references against stores laid out by the test as Ollama lays them out
// (manifests/<host>/<namespace>/<model>/<tag>, blobs/sha256-<hex>): the model's GGUF found by
// name, tag, namespace and host, the other layers typed, and every refusal naming its file.
import XCTest
import Foundation
import ModelFormats
@testable import Llama
@testable import ModelStores

final class OllamaStoreTests: XCTestCase {
    var dir: URL!
    var store: URL { dir.appendingPathComponent("ollama") }
    var environment: ModelStoreEnvironment { StoreFixtures.environment(dir) }

    override func setUpWithError() throws {
        dir = try StoreFixtures.temporaryDirectory(self)
    }

    /// Writes a blob, returning its layer entry.
    @discardableResult
    func blob(_ data: Data, _ mediaType: String) throws -> [String: Any] {
        let hex = SHA256.hash(Array(data)).hexString
        let blobs = store.appendingPathComponent("blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try data.write(to: blobs.appendingPathComponent("sha256-\(hex)"))
        return ["mediaType": mediaType, "digest": "sha256:\(hex)", "size": data.count]
    }

    /// The tiny GGUF plus template, params, system and adapter layers, under `components`.
    @discardableResult
    func addModel(_ components: [String], layers: [[String: Any]]? = nil) throws -> URL {
        let gguf = dir.appendingPathComponent("tiny.gguf")
        if !FileManager.default.fileExists(atPath: gguf.path) { try StoreFixtures.writeTinyGGUF(to: gguf) }
        let all = try layers ?? [
            blob(Data(contentsOf: gguf), "application/vnd.ollama.image.model"),
            blob(Data("{{ .System }} {{ .Prompt }}".utf8), "application/vnd.ollama.image.template"),
            blob(Data(#"{"stop":["<|im_end|>"],"temperature":0.2}"#.utf8), "application/vnd.ollama.image.params"),
            blob(Data("You are tiny.".utf8), "application/vnd.ollama.image.system"),
            blob(Data("GGUF-adapter-bytes".utf8), "application/vnd.ollama.image.adapter"),
        ]
        let config = try blob(Data(#"{"model_format":"gguf","model_family":"llama","model_type":"1M","file_type":"F32"}"#.utf8),
                              "application/vnd.docker.container.image.v1+json")
        let manifest = components.reduce(store.appendingPathComponent("manifests")) { $0.appendingPathComponent($1) }
        try FileManager.default.createDirectory(at: manifest.deletingLastPathComponent(), withIntermediateDirectories: true)
        let json: [String: Any] = ["schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                   "config": config, "layers": all]
        try JSONSerialization.data(withJSONObject: json).write(to: manifest)
        return manifest
    }

    func resolveError(_ reference: String, verify: Bool = false) -> ModelStoreError? {
        var resolver = ModelResolver(environment: environment)
        resolver.verifyOllamaDigests = verify
        do { _ = try resolver.resolve(reference); return nil } catch { return error as? ModelStoreError }
    }

    func testOpensByNameAndTagWithTypedLayersAndSameLogitsAsTheFolder() throws {
        let manifest = try addModel(["registry.ollama.ai", "library", "tiny", "q8"])
        let source = try ModelSource.open("ollama:tiny:q8", environment: environment)
        XCTAssertEqual(source.format, .gguf)
        XCTAssertEqual(source.configuration.layerCount, 2)
        guard case let .ollama(model) = source.origin else { return XCTFail("origin \(source.origin)") }
        XCTAssertEqual(source.origin.reference, "ollama:tiny:q8")
        XCTAssertEqual(model.manifest.path, manifest.path)
        XCTAssertEqual(source.path, model.model.url.path)
        XCTAssertTrue(source.path.hasPrefix(store.appendingPathComponent("blobs/sha256-").path))
        XCTAssertEqual(model.layers.map(\.kind), [.model, .template, .parameters, .system, .adapter])
        XCTAssertEqual(model.template, "{{ .System }} {{ .Prompt }}")
        XCTAssertEqual(model.system, "You are tiny.")
        XCTAssertEqual(model.parameters, ["stop": #"["<|im_end|>"]"#, "temperature": "0.2"])
        XCTAssertEqual(model.adapters.count, 1)
        XCTAssertEqual(model.info, OllamaModelInfo(format: "gguf", family: "llama", parameterSize: "1M", fileType: "F32"))
        // The blob is the model: the same logits as the transformers folder it was written from.
        let folder = try ModelLoader.loadNetwork(folder: StoreFixtures.tinyLlama)
        XCTAssertEqual(try StoreFixtures.logits(StoreFixtures.network(gguf: source)), try StoreFixtures.logits(folder))
    }

    func testDefaultTagNamespaceAndHost() throws {
        try addModel(["registry.ollama.ai", "library", "tiny", "latest"])
        try addModel(["registry.ollama.ai", "someone", "tiny", "v1"])
        try addModel(["example.com:5000", "team", "tiny", "v2"])
        for (reference, name) in [("ollama:tiny", "tiny:latest"), ("ollama:someone/tiny:v1", "someone/tiny:v1"),
                                  ("ollama:example.com:5000/team/tiny:v2", "example.com:5000/team/tiny:v2"),
                                  ("ollama:TINY", "tiny:latest")] {
            let resolved = try ModelResolver(environment: environment).resolve(reference)
            guard case let .ollama(model) = resolved.origin else { return XCTFail(reference) }
            XCTAssertEqual(model.name.description, name, reference)
            XCTAssertEqual(try ModelSource.open(resolved).format, .gguf)
        }
        XCTAssertEqual(OllamaStore(environment: environment).names().map(\.description),
                       ["example.com:5000/team/tiny:v2", "someone/tiny:v1", "tiny:latest"])
    }

    func testMissingNameListsTheStoreAndNearestNames() throws {
        try addModel(["registry.ollama.ai", "library", "tiny", "latest"])
        try addModel(["registry.ollama.ai", "library", "tiny", "q8"])
        try addModel(["registry.ollama.ai", "library", "llama3.2", "1b"])
        let error = resolveError("ollama:tiny:q4")
        XCTAssertEqual(error, .ollamaModelNotFound(name: "tiny:q4", store: store.path, nearest: ["tiny:q8", "tiny:latest", "llama3.2:1b"],
                                                   available: 3))
        XCTAssertTrue(error!.description.contains(store.path), error!.description)
        guard case let .ollamaModelNotFound(_, _, nearest, _)? = resolveError("ollama:lama3.2:1b") else { return XCTFail() }
        XCTAssertEqual(nearest.first, "llama3.2:1b")
        // An empty (or absent) store says so, and how to point at another one.
        let empty = ModelResolver(environment: StoreFixtures.environment(dir.appendingPathComponent("nowhere")))
        XCTAssertThrowsError(try empty.resolve("ollama:tiny")) { e in
            XCTAssertTrue("\(e)".contains("OLLAMA_MODELS"), "\(e)")
        }
    }

    func testMissingBlobNamesTheFile() throws {
        try addModel(["registry.ollama.ai", "library", "tiny", "latest"])
        let model = try OllamaStore(environment: environment).model(named: OllamaModelName(model: "tiny"))
        try FileManager.default.removeItem(at: model.model.url)
        XCTAssertEqual(resolveError("ollama:tiny"),
                       .ollamaBlobMissing(blob: model.model.url.path, manifest: model.manifest.path))
    }

    func testSizeMismatchNamesTheFile() throws {
        let gguf = dir.appendingPathComponent("tiny.gguf")
        try StoreFixtures.writeTinyGGUF(to: gguf)
        var layer = try blob(Data(contentsOf: gguf), "application/vnd.ollama.image.model")
        let size = layer["size"] as! Int
        layer["size"] = size + 1
        try addModel(["registry.ollama.ai", "library", "tiny", "latest"], layers: [layer])
        let hex = (layer["digest"] as! String).dropFirst(7)
        XCTAssertEqual(resolveError("ollama:tiny"),
                       .ollamaBlobSizeMismatch(blob: store.appendingPathComponent("blobs/sha256-\(hex)").path,
                                               expected: Int64(size + 1), actual: Int64(size)))
    }

    func testManifestWithoutModelLayerAndNonGGUFBlob() throws {
        let manifest = try addModel(["registry.ollama.ai", "library", "chat", "latest"],
                                    layers: [try blob(Data("{{ .Prompt }}".utf8), "application/vnd.ollama.image.template")])
        XCTAssertEqual(resolveError("ollama:chat"), .ollamaNoModelLayer(manifest: manifest.path, mediaTypes: ["application/vnd.ollama.image.template"]))
        let notGGUF = try blob(Data("not a gguf file".utf8), "application/vnd.ollama.image.model")
        try addModel(["registry.ollama.ai", "library", "bad", "latest"], layers: [notGGUF])
        let hex = (notGGUF["digest"] as! String).dropFirst(7)
        XCTAssertEqual(resolveError("ollama:bad"), .ollamaNotGGUF(blob: store.appendingPathComponent("blobs/sha256-\(hex)").path))
        // A digest that is not sha256:<hex> cannot name a path outside the store.
        try addModel(["registry.ollama.ai", "library", "evil", "latest"],
                     layers: [["mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../etc/passwd", "size": 1]])
        guard case .ollamaManifestInvalid? = resolveError("ollama:evil") else { return XCTFail() }
    }

    func testDigestsAreCheckedOnlyWhenAsked() throws {
        try addModel(["registry.ollama.ai", "library", "tiny", "latest"])
        XCTAssertNil(resolveError("ollama:tiny", verify: true))
        let model = try OllamaStore(environment: environment).model(named: OllamaModelName(model: "tiny"))
        var bytes = try Data(contentsOf: model.model.url)
        bytes[bytes.count - 1] ^= 0xff  // same size, one bit flipped at the end
        try bytes.write(to: model.model.url)
        XCTAssertNil(resolveError("ollama:tiny"), "sizes only by default")
        guard case .ollamaDigestMismatch(model.model.url.path, model.model.digest, _)? = resolveError("ollama:tiny", verify: true) else {
            return XCTFail("\(String(describing: resolveError("ollama:tiny", verify: true)))")
        }
    }
}
