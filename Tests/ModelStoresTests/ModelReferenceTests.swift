// Parsing `ollama:` and `hf:` references (defaults, every optional part, what is refused),
// and where the environment puts the stores (the variables Ollama and huggingface_hub read).
import XCTest
import Foundation
@testable import ModelStores

final class ModelReferenceTests: XCTestCase {
    func testOllamaNames() throws {
        let cases: [(String, OllamaModelName)] = [
            ("tiny", OllamaModelName(model: "tiny")),
            ("tiny:q8", OllamaModelName(model: "tiny", tag: "q8")),
            ("llama3.2:1b-instruct-q4_K_M", OllamaModelName(model: "llama3.2", tag: "1b-instruct-q4_K_M")),
            ("someone/tiny:v1", OllamaModelName(namespace: "someone", model: "tiny", tag: "v1")),
            ("hf.co/bartowski/SmolLM2-GGUF:Q4_K_M", OllamaModelName(host: "hf.co", namespace: "bartowski", model: "SmolLM2-GGUF", tag: "Q4_K_M")),
            ("localhost:5000/team/tiny", OllamaModelName(host: "localhost:5000", namespace: "team", model: "tiny")),
        ]
        for (text, name) in cases {
            XCTAssertEqual(try ModelReference(parsing: "ollama:" + text), .ollama(name), text)
        }
        XCTAssertEqual(OllamaModelName(model: "tiny").description, "tiny:latest")
        XCTAssertEqual(OllamaModelName(namespace: "a", model: "b").description, "a/b:latest")
        for bad in ["", "a/b/c/d", "tiny:", "../x", "x/..", "a b", "tiny@sha256:abc", "/tiny"] {
            XCTAssertThrowsError(try ModelReference(parsing: "ollama:" + bad), bad) { e in
                guard case .invalidReference? = e as? ModelStoreError else { return XCTFail("\(e)") }
            }
        }
    }

    func testHubReferences() throws {
        let cases: [(String, HubModelReference)] = [
            ("HuggingFaceTB/SmolLM2-135M", HubModelReference(repository: "HuggingFaceTB/SmolLM2-135M")),
            ("org/name@v1.0", HubModelReference(repository: "org/name", revision: "v1.0")),
            ("org/name@refs/pr/3", HubModelReference(repository: "org/name", revision: "refs/pr/3")),
            ("gpt2", HubModelReference(repository: "gpt2")),
            ("org/name-GGUF/name-Q4_K_M.gguf", HubModelReference(repository: "org/name-GGUF", file: "name-Q4_K_M.gguf")),
            ("org/name-GGUF/sub/x.gguf@" + StoreFixtures.commit,
             HubModelReference(repository: "org/name-GGUF", revision: StoreFixtures.commit, file: "sub/x.gguf")),
        ]
        for (text, ref) in cases {
            XCTAssertEqual(try ModelReference(parsing: "hf:" + text), .huggingFace(ref), text)
            XCTAssertEqual(ref.description, text, "round trip")
        }
        XCTAssertTrue(HubModelReference(repository: "a/b", revision: StoreFixtures.commit).revisionIsCommit)
        XCTAssertFalse(HubModelReference(repository: "a/b", revision: "main").revisionIsCommit)
        for bad in ["", "org/name@", "org/name/config.json", "org/../x", "org--x/name", "org/name@../../etc", "org//name", "-org/name"] {
            XCTAssertThrowsError(try ModelReference(parsing: "hf:" + bad), bad) { e in
                guard case .invalidReference? = e as? ModelStoreError else { return XCTFail("\(e)") }
            }
        }
        XCTAssertEqual(try ModelReference(parsing: "models/tiny"), .path("models/tiny"))
    }

    func testAnExistingPathWinsOverItsSpelling() throws {
        let dir = try StoreFixtures.temporaryDirectory(self)
        let odd = dir.appendingPathComponent("hf:not-a-reference")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        XCTAssertEqual(try ModelResolver(environment: StoreFixtures.environment(dir)).resolve(odd.path),
                       ResolvedModel(path: odd.path, origin: .path))
    }

    func testStoreLocationsFollowTheEnvironment() throws {
        let home = ["HOME": "/home/u"]
        XCTAssertEqual(ModelStoreEnvironment(home).ollamaModels.path, "/home/u/.ollama/models")
        XCTAssertEqual(ModelStoreEnvironment(home.merging(["OLLAMA_MODELS": "/srv/ollama"]) { $1 }).ollamaModels.path, "/srv/ollama")
        XCTAssertEqual(ModelStoreEnvironment(home).hubCache.path, "/home/u/.cache/huggingface/hub")
        XCTAssertEqual(ModelStoreEnvironment(home.merging(["XDG_CACHE_HOME": "/xdg"]) { $1 }).hubCache.path, "/xdg/huggingface/hub")
        XCTAssertEqual(ModelStoreEnvironment(home.merging(["HF_HOME": "~/hf", "XDG_CACHE_HOME": "/xdg"]) { $1 }).hubCache.path, "/home/u/hf/hub")
        XCTAssertEqual(ModelStoreEnvironment(home.merging(["HF_HUB_CACHE": "/c", "HF_HOME": "/h"]) { $1 }).hubCache.path, "/c")
        XCTAssertEqual(ModelStoreEnvironment(home).hubEndpoint, "https://huggingface.co")
        XCTAssertEqual(ModelStoreEnvironment(["HF_ENDPOINT": "http://mirror:8080/"]).hubEndpoint, "http://mirror:8080")
        for (v, offline) in [("1", true), ("TRUE", true), ("on", true), ("0", false), ("", false)] {
            XCTAssertEqual(ModelStoreEnvironment(["HF_HUB_OFFLINE": v]).hubOffline, offline, v)
        }
        // The token: HF_TOKEN, else the file `huggingface-cli login` writes.
        let dir = try StoreFixtures.temporaryDirectory(self)
        try Data("hf_saved\n".utf8).write(to: dir.appendingPathComponent("token"))
        XCTAssertEqual(ModelStoreEnvironment(["HF_HOME": dir.path]).hubToken, "hf_saved")
        XCTAssertEqual(ModelStoreEnvironment(["HF_HOME": dir.path, "HF_TOKEN": "hf_env"]).hubToken, "hf_env")
        XCTAssertNil(ModelStoreEnvironment(["HF_HOME": dir.appendingPathComponent("none").path]).hubToken)
    }
}
