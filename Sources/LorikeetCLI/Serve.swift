// `lorikeet serve`: an OpenAI-compatible HTTP server over one model and its adapters
// (LorikeetServer). Blocks until SIGINT/SIGTERM, then drains and exits 0.
import ArgumentParser
import Foundation
import Logging
import Llama
import FineTuning
import LorikeetServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI HTTP API (chat/completions, completions, models) over a model and its adapters.",
        discussion: """
        Each request's "model" picks the adapter by name (the base's name, shown by GET /v1/models, for none).
        Requests that arrive together decode together, each adapter's products on its own rows. Binds to
        127.0.0.1 unless --host says otherwise; any other address needs --api-key (or LORIKEET_API_KEY),
        sent by clients as "Authorization: Bearer KEY". SIGINT/SIGTERM stop new requests and give running
        ones --shutdown-grace seconds.
        """)

    @OptionGroup var model: ModelOption
    @OptionGroup var decode: DecodeOption
    @Option(name: .customLong("adapter"), help: "NAME=PATH (or PATH: named after its folder) of a PEFT folder, GGUF LoRA or mlx-lm folder; repeat for several.")
    var adapters: [String] = []
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free one).") var port = 8080
    @Option(name: .customLong("api-key"), help: "Bearer token clients must send (default: LORIKEET_API_KEY).") var apiKey: String?
    @Option(name: .customLong("served-model-name"), help: "The base model's name in the API (default: its file or folder name).")
    var servedModelName: String?
    @Flag(name: .customLong("allow-adapter-loading"), help: "Enable POST /v1/load_lora_adapter and /v1/unload_lora_adapter.")
    var allowAdapterLoading = false
    @Option(name: .customLong("max-running"), help: "Sequences decoded together.") var maxRunning = 8
    @Option(name: .customLong("max-queue"), help: "Requests that may wait for a place (more get 429).") var maxQueue = 64
    @Option(name: .customLong("max-request-tokens"), help: "Most prompt + completion tokens of one request.") var maxRequestTokens = 4096
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body (more get 413).") var maxBodyBytes = 1 << 20
    @Option(name: .customLong("shutdown-grace"), help: "Seconds running requests get after SIGINT/SIGTERM.") var shutdownGrace = 30.0
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard maxRunning >= 1, maxQueue >= 0, maxRequestTokens >= 2, maxBodyBytes >= 1024 else {
            throw ValidationError("--max-running ≥ 1, --max-queue ≥ 0, --max-request-tokens ≥ 2, --max-body-bytes ≥ 1024")
        }
    }

    func run() throws {
        compute.apply()
        LoggingSystem.bootstrap { StreamLogHandler.standardOutput(label: $0) }
        let source = try model.open()
        let loaded = try decode.load(source)
        var named: [String: LoRAAdapter] = [:]
        for spec in adapters {
            let (name, path) = Self.split(spec)
            guard named[name] == nil else { throw ValidationError("two adapters are named \(name)") }
            named[name] = try LoRAAdapter.load(from: URL(fileURLWithPath: path), for: loaded.model)
        }
        var options = ServerOptions(baseName: servedModelName ?? Self.servedName(source.baseModelName))
        guard named[options.baseName] == nil else { throw ValidationError("an adapter may not take the base model's name \(options.baseName)") }
        options.host = host
        options.port = port
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["LORIKEET_API_KEY"]
        options.allowAdapterLoading = allowAdapterLoading
        options.maxBodyBytes = maxBodyBytes
        options.shutdownGrace = shutdownGrace
        let engine = GenerationEngine(loaded: loaded, adapters: named,
                                      limits: .init(maxRunning: maxRunning, maxWaiting: maxQueue, maxTokensPerRequest: maxRequestTokens))
        let server: OpenAIServer
        do { server = try OpenAIServer(engine: engine, options: options) } catch let e as APIError { throw CommandFailure(e.message) }
        let host = self.host, models = ([options.baseName] + named.keys.sorted()).joined(separator: ", ")
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do {
                try await server.run { port in
                    print("serving \(models) on http://\(host):\(port)/v1 (Ctrl-C stops)")
                    flushStandardOutput()
                }
            } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
        print("stopped")
    }

    /// A path's last component (a GGUF without .gguf); a hub or Ollama reference as it is.
    static func servedName(_ reference: String) -> String {
        guard FileManager.default.fileExists(atPath: reference) else { return reference }
        let url = URL(fileURLWithPath: reference)
        return url.pathExtension == "gguf" ? url.deletingPathExtension().lastPathComponent : url.lastPathComponent
    }

    /// NAME=PATH, or PATH named after its folder (a run's adapter/ folder after the run).
    static func split(_ spec: String) -> (String, String) {
        if let eq = spec.firstIndex(of: "="), !spec[..<eq].contains("/") {
            return (String(spec[..<eq]), String(spec[spec.index(after: eq)...]))
        }
        let url = URL(fileURLWithPath: spec)
        let name = url.lastPathComponent == "adapter" ? url.deletingLastPathComponent().lastPathComponent : url.deletingPathExtension().lastPathComponent
        return (name, spec)
    }
}

final class ErrorBox: @unchecked Sendable {
    var error: Error?
}
