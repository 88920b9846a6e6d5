// The server started in-process on an ephemeral loopback port and driven over real HTTP
// (URLSession): model listing, greedy answers equal to `generate`'s for each adapter, a batch
// of requests for different adapters answering what each answers alone, streaming that
// reassembles, every error's status and JSON body, a client leaving mid-stream, adapters loaded
// and unloaded at run time, the API key, and a graceful shutdown.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ServiceLifecycle
import TensorCore
import Tokenizers
import ModelFormats
import Llama
import FineTuning
@testable import LorikeetServer

final class ServerTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var work: URL!
    var modelFolder: URL { work.appendingPathComponent("tiny") }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-serve-\(UUID().uuidString)")
        try writeModel(to: modelFolder, hidden: 64, layers: 2)
    }

    /// A random Llama of this width and depth with the GPT-2-style test tokenizer.
    func writeModel(to folder: URL, hidden: Int, layers: Int) throws {
        let tokenizerJSON = Self.repoRoot.appendingPathComponent("Tests/TokenizersTests/Fixtures/bpe_gpt2.json")
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizerJSON)) as! [String: Any]
        let vocab = ((spec["model"] as! [String: Any])["vocab"] as! [String: Int]).values.max()! + 1
        let addedMax = (spec["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }.max() ?? 0
        let config = LlamaConfiguration(vocabularySize: max(vocab, addedMax + 1), hiddenSize: hidden, intermediateSize: 2 * hidden,
                                        layerCount: layers, attentionHeads: 4, kvHeads: 2, headDim: hidden / 4, rmsNormEps: 1e-5,
                                        ropeTheta: 10_000, maxPositions: 4096, tieWordEmbeddings: false, eosTokenIDs: [])
        let network = try LlamaModel.random(config, seed: 5, std: hidden > 64 ? 0.05 : 0.3)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try ModelExport.writeNetwork(weights: network.parameters.mapValues(\.value), configuration: config, into: folder)
        try FileManager.default.copyItem(at: tokenizerJSON, to: folder.appendingPathComponent("tokenizer.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    func load() throws -> LoadedModel { try ModelLoader.load(ModelSource.open(modelFolder.path)) }

    /// An adapter whose B is not zero (a fresh LoRA changes nothing), distinct per seed.
    func adapter(for model: LlamaModel, seed: UInt64) throws -> LoRAAdapter {
        let a = try LoRAAdapter.create(for: model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: seed)
        var g = SeededGenerator(seed: seed &+ 99)
        for layer in a.layers.values {
            layer.b.value = try Tensor(shape: layer.b.value.shape, values: (0..<layer.b.value.count).map { _ in Float.random(in: -0.5...0.5, using: &g) })
        }
        return a
    }

    /// A running server; `stop()` shuts it down gracefully and waits.
    final class Running: @unchecked Sendable {
        let server: OpenAIServer
        let group: ServiceGroup
        let task: Task<Void, Error>
        let port: Int
        init(server: OpenAIServer, group: ServiceGroup, task: Task<Void, Error>, port: Int) {
            (self.server, self.group, self.task, self.port) = (server, group, task, port)
        }
        var base: String { "http://127.0.0.1:\(port)" }
        func stop() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    func start(adapters: [String: LoRAAdapter] = [:], limits: GenerationEngine.Limits = .init(),
               configure: (inout ServerOptions) -> Void = { _ in }, loaded: LoadedModel? = nil) async throws -> Running {
        let engine = GenerationEngine(loaded: try loaded ?? load(), adapters: adapters, limits: limits)
        var options = ServerOptions(baseName: "tiny")
        options.port = 0
        options.shutdownGrace = 5
        configure(&options)
        let server = try OpenAIServer(engine: engine, options: options)
        let ports = AsyncStream<Int>.makeStream()
        let group = server.serviceGroup(signals: []) { port in ports.continuation.yield(port) }
        let task = Task { try await group.run() }
        var iterator = ports.stream.makeAsyncIterator()
        guard let port = await iterator.next() else { throw URLError(.cannotConnectToHost) }
        return Running(server: server, group: group, task: task, port: port)
    }

    // MARK: Tests

    /// The router's grouped products give each row what the attached adapter gives it alone.
    func testRoutedRowsComputeWhatTheAttachedAdapterComputes() throws {
        let loaded = try load(), reference = try load()
        let one = try adapter(for: loaded.model, seed: 21), two = try adapter(for: loaded.model, seed: 22)
        let router = AdapterRouter()
        router.add(one, named: "one", to: loaded.model)
        router.add(two, named: "two", to: loaded.model)
        let prompt: [Int32] = [5, 9, 13, 2, 7]
        for (name, lora) in [("one", one), ("two", two)] {
            reference.model.adapters = [:]
            try lora.attach(to: reference.model)
            let expected = try reference.model.step(prompt, cache: KVCache(configuration: reference.model.configuration, capacity: 16))
            router.groups = [(name, 0..<prompt.count)]
            let got = try loaded.model.step(prompt, cache: KVCache(configuration: loaded.model.configuration, capacity: 16))
            XCTAssertEqual(got, expected, name)
        }
        // Batched decode: rows 0-1 adapter one, row 2 the base, row 3 adapter two.
        let caches = (0..<4).map { _ in KVCache(configuration: loaded.model.configuration, capacity: 16) }
        let refCaches = (0..<4).map { _ in KVCache(configuration: loaded.model.configuration, capacity: 16) }
        let names: [String?] = ["one", "one", nil, "two"]
        for (i, name) in names.enumerated() {
            router.groups = [(name, 0..<3)]
            _ = try loaded.model.step([Int32(3 + i), 4, 5], cache: caches[i])
            reference.model.adapters = [:]
            if let name { try (name == "one" ? one : two).attach(to: reference.model) }
            _ = try reference.model.step([Int32(3 + i), 4, 5], cache: refCaches[i])
        }
        router.groups = [("one", 0..<2), (nil, 2..<3), ("two", 3..<4)]
        let batched = try loaded.model.step(tokens: [8, 9, 10, 11], caches: caches)
        for (i, name) in names.enumerated() {
            reference.model.adapters = [:]
            if let name { try (name == "one" ? one : two).attach(to: reference.model) }
            let alone = try reference.model.step([Int32(8 + i)], cache: refCaches[i])
            let diff = zip(batched[i], alone).map { abs($0 - $1) }.max() ?? 0
            XCTAssertEqual(batched[i], alone, "row \(i): max difference \(diff)")
        }
    }

    func testModelsListTheBaseAndEveryAdapter() async throws {
        let loaded = try load()
        let running = try await start(adapters: ["alpha": try adapter(for: loaded.model, seed: 1), "beta": try adapter(for: loaded.model, seed: 2)],
                                      loaded: loaded)
        let (status, body) = try await HTTP.send(running.base + "/v1/models")
        XCTAssertEqual(status, 200)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let data = try XCTUnwrap(list["data"] as? [[String: Any]])
        XCTAssertEqual(data.map { $0["id"] as? String }, ["tiny", "alpha", "beta"])
        XCTAssertTrue(data[0]["parent"] is NSNull)
        XCTAssertEqual(data[1]["parent"] as? String, "tiny")
        let health = try await HTTP.send(running.base + "/health")
        XCTAssertEqual(health.status, 200)
        try await running.stop()
    }

    /// Greedy answers equal `generate`'s with the same adapter, alone and in a batch of eight
    /// requests over four adapters and the base that arrive together.
    func testGreedyAnswersEqualGenerateAloneAndInABatch() async throws {
        let loaded = try load()
        let reference = try load()
        let names = ["a1", "a2", "a3", "a4"]
        // The same adapter objects serve the reference model (a LoRALayer is a hook over its tensors).
        var adapters: [String: LoRAAdapter] = [:]
        for (i, name) in names.enumerated() { adapters[name] = try adapter(for: loaded.model, seed: UInt64(10 + i)) }
        let twins = adapters
        let prompts = ["the quick brown fox", "a lorikeet is", "swift code runs", "loss falls as", "port amarel", "the lazy dog",
                       "colourful parrot", "the model learns"]
        let models = ["a1", "a2", "tiny", "a3", "a4", "a1", "tiny", "a2"]
        // What `generate` makes, decoded as the server decodes.
        var expected: [String] = []
        for (prompt, model) in zip(prompts, models) {
            reference.model.adapters = [:]
            if model != "tiny" { try twins[model]!.attach(to: reference.model) }
            let ids = try reference.model.generate(prompt: reference.tokenizer.encode(prompt, addSpecialTokens: true), maxNewTokens: 12,
                                                   sampling: SamplingOptions(), stopTokens: reference.stopTokenIDs)
            var detok = StreamingDetokenizer(tokenizer: reference.tokenizer, skipSpecialTokens: true)
            expected.append(ids.map { detok.append($0) }.joined() + detok.finish())
        }
        XCTAssertEqual(Set(expected).count, expected.count, "the adapters must make different answers for the test to mean anything")
        let running = try await start(adapters: adapters, limits: .init(maxRunning: 8), loaded: loaded)
        func complete(_ i: Int) async throws -> String {
            let (status, body) = try await HTTP.send(running.base + "/v1/completions", json: [
                "model": models[i], "prompt": prompts[i], "max_tokens": 12, "temperature": 0])
            XCTAssertEqual(status, 200, String(decoding: body, as: UTF8.self))
            let obj = try JSONSerialization.jsonObject(with: body) as! [String: Any]
            return ((obj["choices"] as! [[String: Any]])[0]["text"] as! String)
        }
        for i in prompts.indices {
            let alone = try await complete(i)
            XCTAssertEqual(alone, expected[i], "alone, request \(i) (\(models[i]))")
        }
        // Held until all eight wait, so they start together however the requests are scheduled.
        let engine = running.server.engine
        let before = engine.statistics
        engine.holdAdmission(true)
        let together = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in prompts.indices { group.addTask { (i, try await complete(i)) } }
            let deadline = Date().addingTimeInterval(30)
            while engine.statistics.waiting < prompts.count && Date() < deadline { try await Task.sleep(nanoseconds: 1_000_000) }
            XCTAssertEqual(engine.statistics.waiting, prompts.count, "every request must be waiting before the batch starts")
            engine.holdAdmission(false)
            var out = [String](repeating: "", count: prompts.count)
            for try await (i, text) in group { out[i] = text }
            return out
        }
        let after = engine.statistics
        XCTAssertEqual(together, expected, "in a batch")
        let occupancy = Double(after.rowSum - before.rowSum) / Double(max(1, after.steps - before.steps))
        XCTAssertGreaterThan(occupancy, 2, "the requests must have decoded together (mean rows per step \(occupancy))")
        try await running.stop()
    }

    func testStreamingChunksReassembleToTheSameText() async throws {
        let loaded = try load()
        let running = try await start(adapters: ["alpha": try adapter(for: loaded.model, seed: 3)], loaded: loaded)
        let request: [String: Any] = ["model": "alpha", "messages": [["role": "user", "content": "hello there"]], "max_tokens": 10, "temperature": 0]
        let (status, body) = try await HTTP.send(running.base + "/v1/chat/completions", json: request)
        XCTAssertEqual(status, 200)
        let whole = try JSONSerialization.jsonObject(with: body) as! [String: Any]
        let text = ((whole["choices"] as! [[String: Any]])[0]["message"] as! [String: Any])["content"] as! String
        var streamed = request
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let (s2, events) = try await HTTP.send(running.base + "/v1/chat/completions", json: streamed)
        XCTAssertEqual(s2, 200)
        let lines = String(decoding: events, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.last, "data: [DONE]")
        let chunks = try lines.dropLast().map { line -> [String: Any] in
            XCTAssertTrue(line.hasPrefix("data: "), line)
            return try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as! [String: Any]
        }
        XCTAssertTrue(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        let choices = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        XCTAssertEqual((choices.first?["delta"] as? [String: Any])?["role"] as? String, "assistant")
        XCTAssertEqual(choices.map { ($0["delta"] as? [String: Any])?["content"] as? String ?? "" }.joined(), text)
        // The random model may end early on a stop token (where depends on the CPU's rounding):
        // the stream must end as the whole answer did, and a "length" end means all 10 tokens.
        let wholeReason = try XCTUnwrap((whole["choices"] as! [[String: Any]])[0]["finish_reason"] as? String)
        let wholeTokens = try XCTUnwrap((whole["usage"] as? [String: Any])?["completion_tokens"] as? Int)
        XCTAssertEqual(choices.last?["finish_reason"] as? String, wholeReason)
        XCTAssertTrue(wholeReason == "length" ? wholeTokens == 10 : wholeReason == "stop" && wholeTokens < 10, "\(wholeReason) after \(wholeTokens)")
        let usage = try XCTUnwrap(chunks.last?["usage"] as? [String: Any])
        XCTAssertEqual(usage["completion_tokens"] as? Int, wholeTokens)
        XCTAssertEqual((chunks.last?["choices"] as? [Any])?.count, 0)
        try await running.stop()
    }

    func testErrorsHaveTheirStatusAndOpenAIBody() async throws {
        let running = try await start(limits: .init(maxRunning: 1, maxWaiting: 1, maxTokensPerRequest: 64)) { $0.maxBodyBytes = 4096 }
        func expect(_ path: String, _ body: Data, _ status: Int, param: String?, code: String? = nil, line: UInt = #line) async throws {
            let (s, data) = try await HTTP.send(running.base + path, body: body)
            XCTAssertEqual(s, status, String(decoding: data, as: UTF8.self), line: line)
            let error = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["error"] as? [String: Any]
            XCTAssertNotNil(error?["message"] as? String, "no OpenAI error body: \(String(decoding: data, as: UTF8.self))", line: line)
            XCTAssertNotNil(error?["type"] as? String, line: line)
            if let param { XCTAssertEqual(error?["param"] as? String, param, line: line) }
            if let code { XCTAssertEqual(error?["code"] as? String, code, line: line) }
        }
        func json(_ o: Any) -> Data { try! JSONSerialization.data(withJSONObject: o) }
        try await expect("/v1/chat/completions", Data("{not json".utf8), 400, param: nil)
        try await expect("/v1/chat/completions", json(["model": "tiny"]), 400, param: "messages")
        try await expect("/v1/chat/completions", json(["messages": [["role": "user", "content": "x"]]]), 400, param: "model")
        try await expect("/v1/chat/completions", json(["model": "tiny", "messages": [["role": "user", "content": "x"]], "temperature": "hot"]), 400, param: "temperature")
        try await expect("/v1/completions", json(["model": "tiny", "prompt": "x", "max_tokens": 1.5]), 400, param: "max_tokens")
        try await expect("/v1/completions", json(["model": "tiny", "prompt": "x", "stream": "yes"]), 400, param: "stream")
        try await expect("/v1/completions", json(["model": "tiny", "prompt": "x", "n": 2]), 400, param: "n")
        try await expect("/v1/completions", json(["model": "nope", "prompt": "x"]), 404, param: "model", code: "model_not_found")
        try await expect("/v1/completions", json(["model": "tiny", "prompt": "x", "max_tokens": 100]), 400, param: "max_tokens", code: "context_length_exceeded")
        try await expect("/v1/completions", Data(repeating: 0x20, count: 5000), 413, param: nil, code: "request_too_large")
        try await expect("/v1/load_lora_adapter", json(["lora_name": "x", "lora_path": "/tmp"]), 404, param: nil)
        try await expect("/v1/nothing", json([:]), 404, param: nil)
        try await running.stop()
        // One place and one queue slot: of twelve requests sent at once, those beyond are told to come back later.
        let busy = try await start(limits: .init(maxRunning: 1, maxWaiting: 1))
        let long = json(["model": "tiny", "prompt": "the quick", "max_tokens": 200, "temperature": 0])
        let url = busy.base + "/v1/completions"
        let answers = try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            for _ in 0..<12 { group.addTask { let r = try await HTTP.send(url, body: long); return (r.status, r.body) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let refused = answers.filter { $0.0 == 429 }
        XCTAssertGreaterThan(refused.count, 0)
        XCTAssertEqual(answers.filter { $0.0 == 200 }.count + refused.count, 12)
        for (_, body) in refused {
            let error = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["error"] as? [String: Any]
            XCTAssertEqual(error?["code"] as? String, "queue_full")
            XCTAssertEqual(error?["type"] as? String, "rate_limit_error")
        }
        try await busy.stop()
    }

    /// A client that goes away mid-stream frees its place at once: with one place, the next request runs.
    func testADisconnectedClientFreesItsSlot() async throws {
        // A model slow enough (width 768, 8 layers: milliseconds a token) that 400 tokens outlast the hang-up.
        let slow = work.appendingPathComponent("slow")
        try writeModel(to: slow, hidden: 768, layers: 8)
        let running = try await start(limits: .init(maxRunning: 1, maxWaiting: 4), loaded: try ModelLoader.load(ModelSource.open(slow.path)))
        // Connection: close keeps the client from handing the hung-up connection to the next
        // request (curl did, once in a CI run, and that request was cancelled and sent again).
        let stream = HTTP.Stream(running.base + "/v1/completions", json: ["model": "tiny", "prompt": "the quick", "max_tokens": 400, "temperature": 0, "stream": true],
                                 headers: ["Connection": "close"])
        try await stream.waitForData()
        XCTAssertEqual(running.server.engine.statistics.running, 1)
        stream.cancel()
        let t0 = Date()
        let (status, _) = try await HTTP.send(running.base + "/v1/completions", json: ["model": "tiny", "prompt": "a", "max_tokens": 3])
        XCTAssertEqual(status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10)
        for _ in 0..<200 where running.server.engine.statistics.running > 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        XCTAssertEqual(running.server.engine.statistics.running, 0)
        XCTAssertEqual(running.server.engine.statistics.cancelled, 1, "the abandoned request was dropped, not run to its end")
        try await running.stop()
    }

    /// A non-streamed completion that shutdown's grace cuts off answers 503, not a 200 with
    /// whatever text it had.
    func testANonStreamedCompletionCutOffByShutdownIsA503() async throws {
        let slow = work.appendingPathComponent("slow")
        try writeModel(to: slow, hidden: 768, layers: 8)
        let running = try await start(configure: { $0.shutdownGrace = 0.2 }, loaded: try ModelLoader.load(ModelSource.open(slow.path)))
        let request = HTTP.Stream(running.base + "/v1/completions", json: ["model": "tiny", "prompt": "the quick", "max_tokens": 3000, "temperature": 0])
        for _ in 0..<400 where running.server.engine.statistics.running == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
        XCTAssertEqual(running.server.engine.statistics.running, 1, "the request decodes (its prompt is done)")
        try await running.stop()
        let body = String(decoding: try await request.finished(), as: UTF8.self)
        XCTAssertEqual(request.status, 503, body)
        XCTAssertTrue(body.contains("\"shutting_down\""), body)
        XCTAssertEqual(running.server.engine.statistics.cancelled, 1)
    }

    func testAdaptersLoadAndUnloadAtRunTime() async throws {
        let loaded = try load()
        let folder = work.appendingPathComponent("adapter")
        try adapter(for: loaded.model, seed: 7).save(to: folder, baseModel: "tiny")
        let running = try await start(configure: { $0.allowAdapterLoading = true }, loaded: loaded)
        let (s1, _) = try await HTTP.send(running.base + "/v1/load_lora_adapter", json: ["lora_name": "late", "lora_path": folder.path])
        XCTAssertEqual(s1, 200)
        let models = try await HTTP.send(running.base + "/v1/models")
        XCTAssertTrue(String(decoding: models.body, as: UTF8.self).contains("\"late\""))
        let withIt = try await HTTP.send(running.base + "/v1/completions", json: ["model": "late", "prompt": "the quick", "max_tokens": 6, "temperature": 0])
        let without = try await HTTP.send(running.base + "/v1/completions", json: ["model": "tiny", "prompt": "the quick", "max_tokens": 6, "temperature": 0])
        XCTAssertEqual(withIt.status, 200)
        XCTAssertNotEqual(String(decoding: withIt.body, as: UTF8.self).components(separatedBy: "\"text\"").last,
                          String(decoding: without.body, as: UTF8.self).components(separatedBy: "\"text\"").last)
        let (s2, _) = try await HTTP.send(running.base + "/v1/unload_lora_adapter", json: ["lora_name": "late"])
        XCTAssertEqual(s2, 200)
        let gone = try await HTTP.send(running.base + "/v1/completions", json: ["model": "late", "prompt": "x", "max_tokens": 2])
        XCTAssertEqual(gone.status, 404)
        let (s3, _) = try await HTTP.send(running.base + "/v1/load_lora_adapter", json: ["lora_name": "bad", "lora_path": "/nonexistent"])
        XCTAssertEqual(s3, 400)
        let (s4, _) = try await HTTP.send(running.base + "/v1/load_lora_adapter", body: Data("{not json".utf8))
        XCTAssertEqual(s4, 400, "bad JSON is the client's error, not the server's")
        try await running.stop()
    }

    func testTheAPIKeyIsRequiredWhenSetAndOffLoopback() async throws {
        XCTAssertThrowsError(try OpenAIServer(engine: GenerationEngine(loaded: try load()), options: {
            var o = ServerOptions(baseName: "tiny"); o.host = "0.0.0.0"; return o }()))
        let running = try await start { $0.apiKey = "sesame" }
        let denied = try await HTTP.send(running.base + "/v1/models")
        XCTAssertEqual(denied.status, 401)
        let wrong = try await HTTP.send(running.base + "/v1/models", headers: ["Authorization": "Bearer sesamf"])
        XCTAssertEqual(wrong.status, 401)
        let allowed = try await HTTP.send(running.base + "/v1/models", headers: ["Authorization": "Bearer sesame"])
        XCTAssertEqual(allowed.status, 200)
        let health = try await HTTP.send(running.base + "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertTrue(AuthMiddleware.equal(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(AuthMiddleware.equal(Array("abc".utf8), Array("abcd".utf8)))
        try await running.stop()
    }

    /// Shutdown lets a running request finish, then the server stops; metrics counted it. The
    /// request is long (3000 tokens, about a second) so that it still runs when /metrics is read.
    func testGracefulShutdownFinishesRunningRequests() async throws {
        let running = try await start()
        let stream = HTTP.Stream(running.base + "/v1/completions", json: ["model": "tiny", "prompt": "the quick", "max_tokens": 3000, "temperature": 0, "stream": true])
        try await stream.waitForData()
        let metrics = String(decoding: try await HTTP.send(running.base + "/metrics").body, as: UTF8.self)
        XCTAssertNotNil(metrics.range(of: #"\nlorikeet_running_sequences 1(\.0)?\n"#, options: .regularExpression), metrics)
        XCTAssertTrue(metrics.contains("lorikeet_time_to_first_token_seconds_bucket"), metrics)
        try await running.stop()
        let body = try await stream.finished()
        XCTAssertTrue(String(decoding: body, as: UTF8.self).hasSuffix("data: [DONE]\n\n"), "the running request finished before the server stopped")
        let after = try? await HTTP.send(running.base + "/health")
        XCTAssertNil(after, "the server no longer accepts connections")
    }
}

/// A small HTTP client over one URLSession (swift-corelibs-foundation misbehaves when many are made and dropped).
enum HTTP {
    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 60
        c.httpMaximumConnectionsPerHost = 16  // the default 6 would queue a batch of eight requests in the client
        return URLSession(configuration: c, delegate: StreamDelegate.shared, delegateQueue: nil)
    }()

    static func send(_ url: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: Data) {
        let s = Stream(url, json: json, body: body, headers: headers)
        let data = try await s.finished()
        return (s.status, data)
    }

    /// One request whose body arrives in pieces; cancel() hangs up.
    final class Stream: @unchecked Sendable {
        let lock = NSLock()
        var data = Data()
        var status = 0
        var error: Error?
        var done = false
        let task: URLSessionDataTask

        init(_ url: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:]) {
            var request = URLRequest(url: URL(string: url)!)
            if let payload = body ?? json.map({ try! JSONSerialization.data(withJSONObject: $0) }) {
                request.httpMethod = "POST"
                request.httpBody = payload
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
            task = HTTP.session.dataTask(with: request)
            StreamDelegate.shared.register(task, self)
            task.resume()
        }

        func cancel() { task.cancel() }

        func waitForData() async throws {
            for _ in 0..<2000 {
                if lock.withLock({ !data.isEmpty || done }) { return }
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            throw URLError(.timedOut)
        }

        func finished() async throws -> Data {
            for _ in 0..<12000 {
                let (d, e, body) = lock.withLock { (done, error, data) }
                if d {
                    if let e { throw e }
                    return body
                }
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            throw URLError(.timedOut)
        }
    }

    final class StreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        static let shared = StreamDelegate()
        let lock = NSLock()
        var streams: [Int: Stream] = [:]
        func register(_ task: URLSessionTask, _ s: Stream) { lock.withLock { streams[task.taskIdentifier] = s } }
        func stream(_ task: URLSessionTask) -> Stream? { lock.withLock { streams[task.taskIdentifier] } }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            if let s = stream(dataTask) { s.lock.withLock { s.status = (response as? HTTPURLResponse)?.statusCode ?? 0 } }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            if let s = stream(dataTask) { s.lock.withLock { s.data.append(data) } }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            let s = lock.withLock { streams.removeValue(forKey: task.taskIdentifier) }
            s?.lock.withLock {
                s?.error = error
                s?.done = true
            }
        }
    }
}
