// `lorikeet serve`: the OpenAI HTTP API over one base model and any number of adapters, on
// Hummingbird 2. A request's `model` picks the adapter (the base's name for none); requests that
// arrive together decode together (GenerationEngine). Loopback by default; any other address
// needs an API key, checked as a bearer token in constant time. One access-log line per request,
// Prometheus metrics at /metrics, and on SIGINT/SIGTERM: no new requests, in-flight ones finish
// or are cancelled after the grace period, exit 0.
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import Llama
import FineTuning

/// How the server listens and what it allows.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// The bearer token required on /v1/* and /metrics (required off loopback).
    public var apiKey: String?
    /// POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM's names).
    public var allowAdapterLoading = false
    /// Largest request body.
    public var maxBodyBytes = 1 << 20
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    public var shutdownGrace = 30.0
    /// The base model's name in /v1/models and in requests.
    public var baseName: String

    public init(baseName: String) { self.baseName = baseName }

    /// True for addresses only this machine can reach.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Per-request facts the access log and metrics want, filled in by the handlers.
final class RequestRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var _model: String?, _prompt = 0, _completion = 0, _firstToken: Double?
    var model: String? { get { lock.withLock { _model } } set { lock.withLock { _model = newValue } } }
    var promptTokens: Int { get { lock.withLock { _prompt } } set { lock.withLock { _prompt = newValue } } }
    var completionTokens: Int { get { lock.withLock { _completion } } set { lock.withLock { _completion = newValue } } }
    var firstTokenSeconds: Double? { get { lock.withLock { _firstToken } } set { lock.withLock { _firstToken = newValue } } }
}

/// The request context: Hummingbird's core plus this request's record.
public struct ServeContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let record = RequestRecord()
    public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// The HTTP front of a GenerationEngine.
public final class OpenAIServer: Sendable {
    public let engine: GenerationEngine
    public let options: ServerOptions
    let metrics = ServerMetrics()
    let logger: Logger
    let created = Int(Date().timeIntervalSince1970)

    /// - Throws: `APIError` (as a configuration error) when binding off loopback without an API key.
    public init(engine: GenerationEngine, options: ServerOptions, logger: Logger = Logger(label: "lorikeet.serve")) throws {
        if !ServerOptions.isLoopback(options.host) && (options.apiKey ?? "").isEmpty {
            throw APIError(status: 0, message: "binding to \(options.host) (not loopback) needs --api-key or LORIKEET_API_KEY", type: "configuration")
        }
        self.engine = engine
        self.options = options
        self.logger = logger
    }

    /// The Hummingbird application (tests run it with port 0 and learn the port from `onRunning`).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: ServeContext.self)
        router.add(middleware: AccessMiddleware(server: self))
        router.add(middleware: AuthMiddleware(apiKey: options.apiKey))
        router.get("/health") { _, _ in Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}"))) }
        router.get("/metrics") { [self] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics.render(engine.statistics))))
        }
        router.get("/v1/models") { [self] _, _ in json(200, modelList()) }
        router.post("/v1/chat/completions") { [self] request, context in try await complete(request, context, chat: true) }
        router.post("/v1/completions") { [self] request, context in try await complete(request, context, chat: false) }
        router.post("/v1/load_lora_adapter") { [self] request, _ in try await loadAdapter(request) }
        router.post("/v1/unload_lora_adapter") { [self] request, _ in try await unloadAdapter(request) }
        return Application(router: router, configuration: .init(address: .hostname(options.host, port: options.port), serverName: "lorikeet"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then drains: new requests get 503, in-flight ones have
    /// `shutdownGrace` seconds, and the call returns.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await serviceGroup(signals: [.sigterm, .sigint], onRunning: onRunning).run()
    }

    /// The server and its drain as one ServiceGroup; `triggerGracefulShutdown()` (or one of
    /// `signals`) starts the drain: new requests get 503, running ones have the grace period.
    public func serviceGroup(signals: [UnixSignal], onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> ServiceGroup {
        let app = application(onRunning: onRunning)
        // Services shut down last to first: the drain starts at once, then the HTTP server waits for open responses.
        return ServiceGroup(configuration: .init(services: [.init(service: app), .init(service: DrainService(server: self))],
                                                 gracefulShutdownSignals: signals, logger: logger))
    }

    /// Stops taking requests and cancels what runs after the grace period (what SIGTERM does).
    public func beginShutdown() {
        let engine = engine, grace = options.shutdownGrace
        Thread.detachNewThread { engine.shutdown(grace: grace) }
    }

    // MARK: Handlers

    func json(_ status: Int, _ object: Any) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: JSON.data(object))))
    }

    func modelList() -> [String: Any] {
        var data: [[String: Any]] = [["id": options.baseName, "object": "model", "created": created, "owned_by": "lorikeet",
                                      "root": options.baseName, "parent": NSNull()]]
        for name in engine.adapterNames {
            data.append(["id": name, "object": "model", "created": created, "owned_by": "lorikeet", "root": name, "parent": options.baseName])
        }
        return ["object": "list", "data": data]
    }

    func body(_ request: Request) async throws -> Data {
        do {
            let buffer = try await request.body.collect(upTo: options.maxBodyBytes)
            return Data(buffer.readableBytesView)
        } catch where error is NIOTooManyBytesError || (error as? HTTPError)?.status == .contentTooLarge {
            throw APIError(status: 413, message: "the request body is larger than \(options.maxBodyBytes) bytes", type: "invalid_request_error",
                           code: "request_too_large")
        }
    }

    func complete(_ request: Request, _ context: ServeContext, chat: Bool) async throws -> Response {
        let p = try CompletionParameters(json: try await body(request), chat: chat)
        context.record.model = p.model
        let adapter: String?
        if p.model == options.baseName {
            adapter = nil
        } else if engine.adapterNames.contains(p.model) {
            adapter = p.model
        } else {
            throw APIError(status: 404, message: "the model '\(p.model)' does not exist", type: "invalid_request_error", param: "model",
                           code: "model_not_found")
        }
        let loaded = engine.loaded
        let ids: [Int]
        switch p.prompt {
        case let .chat(messages):
            let text: String
            do { text = try loaded.renderChat(messages) } catch {
                throw APIError.invalid("the chat template could not render these messages: \(error)", param: "messages")
            }
            ids = loaded.tokenizer.encode(text, addSpecialTokens: false)
        case let .text(text):
            ids = loaded.tokenizer.encode(text, addSpecialTokens: true)
        }
        let maxTokens = p.maxTokens ?? max(1, min(1024, engine.tokenLimit - ids.count))
        let stream: AsyncStream<GenerationEvent>
        do {
            stream = try engine.submit(GenerationRequest(prompt: ids, adapter: adapter, maxTokens: maxTokens, sampling: p.sampling, stop: p.stop))
        } catch let e as EngineError {
            switch e {
            case .queueFull: throw APIError(status: 429, message: e.description, type: "rate_limit_error", code: "queue_full")
            case .unknownAdapter: throw APIError(status: 404, message: e.description, type: "invalid_request_error", param: "model", code: "model_not_found")
            case .contextExceeded: throw APIError.invalid(e.description, param: "max_tokens", code: "context_length_exceeded")
            case .shuttingDown: throw APIError(status: 503, message: e.description, type: "server_error", code: "shutting_down")
            }
        }
        context.record.promptTokens = ids.count
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let started = Date()
        let record = context.record
        let object = chat ? "chat.completion" : "text_completion"
        let created = Int(started.timeIntervalSince1970)
        if !p.stream {
            var text = "", reason: String?, completion = 0
            for await event in stream {
                switch event {
                case let .text(piece):
                    if record.firstTokenSeconds == nil { record.firstTokenSeconds = Date().timeIntervalSince(started) }
                    text += piece
                case let .finished(r, _, c): (reason, completion) = (r, c)
                }
            }
            record.completionTokens = completion
            // The stream ends without its last event only when this handler's task was cancelled
            // (the client hung up: 499, as nginx logs it) or shutdown's grace ran out (503): never a 200.
            guard let reason else {
                if Task.isCancelled {
                    throw APIError(status: 499, message: "the client closed the request before its completion ended", type: "server_error",
                                   code: "client_closed_request")
                }
                throw APIError(status: 503, message: EngineError.shuttingDown.description, type: "server_error", code: "shutting_down")
            }
            if reason == "error" { throw APIError(status: 500, message: "generation failed", type: "server_error") }
            let choice: [String: Any] = chat
                ? ["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": reason, "logprobs": NSNull()]
                : ["index": 0, "text": text, "finish_reason": reason, "logprobs": NSNull()]
            return json(200, ["id": id, "object": object, "created": created, "model": p.model, "choices": [choice],
                              "usage": Self.usage(ids.count, completion)])
        }
        // Server-sent events: chunks with deltas, a last chunk with finish_reason, [DONE].
        let chunkObject = chat ? "chat.completion.chunk" : "text_completion"
        let model = p.model, includeUsage = p.includeUsage
        let body = ResponseBody { writer in
            func send(_ object: Any) async throws {
                var buffer = ByteBuffer(string: "data: ")
                buffer.writeBytes(JSON.data(object))
                buffer.writeString("\n\n")
                try await writer.write(buffer)
            }
            func chunk(_ delta: [String: Any], _ reason: String?) -> [String: Any] {
                var choice: [String: Any] = ["index": 0, "finish_reason": reason ?? NSNull(), "logprobs": NSNull()]
                if chat { choice["delta"] = delta } else { choice["text"] = delta["content"] ?? "" }
                var c: [String: Any] = ["id": id, "object": chunkObject, "created": created, "model": model, "choices": [choice]]
                if includeUsage { c["usage"] = NSNull() }
                return c
            }
            if chat { try await send(chunk(["role": "assistant", "content": ""], nil)) }
            for await event in stream {
                switch event {
                case let .text(piece):
                    if record.firstTokenSeconds == nil { record.firstTokenSeconds = Date().timeIntervalSince(started) }
                    try await send(chunk(["content": piece], nil))  // a client gone throws here: the stream ends, the slot frees
                case let .finished(reason, prompt, completion):
                    record.completionTokens = completion
                    try await send(chunk([:], reason))
                    if includeUsage {
                        try await send(["id": id, "object": chunkObject, "created": created, "model": model, "choices": [] as [Any],
                                        "usage": Self.usage(prompt, completion)])
                    }
                }
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    static func usage(_ prompt: Int, _ completion: Int) -> [String: Any] {
        ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }

    /// The JSON object of a load/unload request, when adapter loading is on.
    func adapterRequest(_ request: Request) async throws -> [String: Any] {
        guard options.allowAdapterLoading else {
            throw APIError(status: 404, message: "adapter loading is off (start the server with --allow-adapter-loading)", type: "invalid_request_error")
        }
        guard let body = (try? JSONSerialization.jsonObject(with: try await self.body(request))) as? [String: Any] else {
            throw APIError.invalid("the request body is not a JSON object", param: nil)
        }
        return body
    }

    func loadAdapter(_ request: Request) async throws -> Response {
        let body = try await adapterRequest(request)
        guard let name = body["lora_name"] as? String, !name.isEmpty else { throw APIError.invalid("'lora_name' is required", param: "lora_name") }
        guard let path = body["lora_path"] as? String, !path.isEmpty else { throw APIError.invalid("'lora_path' is required", param: "lora_path") }
        guard name != options.baseName else { throw APIError.invalid("'\(name)' is the base model's name", param: "lora_name") }
        let adapter: LoRAAdapter
        do { adapter = try LoRAAdapter.load(from: URL(fileURLWithPath: path), for: engine.loaded.model) } catch {
            throw APIError.invalid("cannot load the adapter at \(path): \(error)", param: "lora_path")
        }
        engine.addAdapter(adapter, named: name)
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Success: LoRA adapter '\(name)' added successfully.")))
    }

    func unloadAdapter(_ request: Request) async throws -> Response {
        guard let name = try await adapterRequest(request)["lora_name"] as? String else {
            throw APIError.invalid("'lora_name' is required", param: "lora_name")
        }
        guard engine.removeAdapter(named: name) else {
            throw APIError(status: 404, message: "the adapter '\(name)' is not loaded", type: "invalid_request_error", param: "lora_name",
                           code: "model_not_found")
        }
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Success: LoRA adapter '\(name)' removed successfully.")))
    }
}

/// Waits for the shutdown signal, then stops the engine taking requests (a grace timer cancels the rest).
struct DrainService: Service {
    let server: OpenAIServer
    func run() async throws {
        try? await gracefulShutdown()
        server.beginShutdown()
    }
}

/// Bearer-token check (constant time in the token's length) on everything but /health.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let apiKey: String?

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        guard let apiKey, !apiKey.isEmpty, request.uri.path != "/health" else { return try await next(request, context) }
        let given = request.headers[.authorization] ?? ""
        guard Self.equal(Array(given.utf8), Array(("Bearer " + apiKey).utf8)) else {
            throw APIError(status: 401, message: "a valid API key is required (Authorization: Bearer …)", type: "invalid_request_error",
                           code: "invalid_api_key")
        }
        return try await next(request, context)
    }

    /// Compares every byte whatever the first difference (lengths leak, contents do not).
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return difference == 0
    }
}

/// Errors as OpenAI JSON, one access-log line per request (when its body is done), metrics.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let server: OpenAIServer

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        let started = Date()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let e as APIError {
            response = Response(status: .init(code: e.status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: e.json)))
        } catch let e as HTTPError {
            let api = APIError(status: e.status.code, message: e.body ?? e.status.reasonPhrase, type: e.status.code == 404 ? "invalid_request_error" : "server_error")
            response = Response(status: e.status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: api.json)))
        } catch {
            let api = APIError(status: 500, message: "\(error)", type: "server_error")
            response = Response(status: .internalServerError, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: api.json)))
        }
        let method = request.method.rawValue, path = request.uri.path, status = response.status.code
        let record = context.record, logger = server.logger, metrics = server.metrics
        let done: @Sendable () -> Void = {
            let total = Date().timeIntervalSince(started)
            let ttft = record.firstTokenSeconds.map { String(format: "%.3f", $0) } ?? "-"
            logger.info("\(method) \(path) model=\(record.model ?? "-") status=\(status) prompt_tokens=\(record.promptTokens) completion_tokens=\(record.completionTokens) ttft_s=\(ttft) total_s=\(String(format: "%.3f", total))")
            metrics.record(path: path, status: status, completionTokens: record.completionTokens, firstToken: record.firstTokenSeconds, total: total)
        }
        let original = response.body
        response.body = ResponseBody(contentLength: original.contentLength) { writer in
            defer { done() }
            try await original.write(writer)
        }
        return response
    }
}
