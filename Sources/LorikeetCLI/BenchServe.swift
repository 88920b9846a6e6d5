// `lorikeet bench serve`: the server in-process on a loopback port, driven by C concurrent
// streaming clients for a bounded number of requests: requests/s, generated tokens/s, p50/p95
// time to first token and per-token latency, with every client on one adapter or each on its
// own, and C requests sent one after another for comparison. Stops by itself.
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ServiceLifecycle
import Logging
import Llama
import TensorCore
import FineTuning
import LorikeetServer

struct BenchServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Requests/s, tokens/s and latency percentiles of `lorikeet serve` at several client counts (loopback, bounded).")

    @OptionGroup var model: ModelOption
    @OptionGroup var decode: DecodeOption
    @Option(help: "Concurrent clients to measure, comma-separated.") var clients = "1,4,16"
    @Option(name: .customLong("requests-per-client"), help: "Requests each client sends in a run.") var requestsPerClient = 2
    @Option(name: .customLong("max-tokens"), help: "Tokens each request generates (greedy, no stop).") var maxTokens = 32
    @Option(help: "LoRA rank of the synthetic adapters (seeded random, all-linear), one per client at most.") var rank = 16
    @Option(name: .customLong("soak-seconds"), help: "Afterwards, keep 4 clients busy this long and report peak RSS over time (0: skip).")
    var soakSeconds = 0.0
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        compute.apply()
        let counts = clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }), requestsPerClient >= 1, maxTokens >= 2 else {
            throw ValidationError("--clients (≥ 1 each), --requests-per-client ≥ 1, --max-tokens ≥ 2")
        }
        let source = try model.open()
        let loaded = try decode.load(source)
        var adapters: [String: LoRAAdapter] = [:]
        for i in 0..<max(counts.max()!, soakSeconds > 0 ? 4 : 0) {
            let a = try LoRAAdapter.create(for: loaded.model, configuration: LoRAConfiguration(rank: rank, alpha: Float(2 * rank), targets: ["all-linear"]),
                                           seed: UInt64(100 + i))
            var g = SeededGenerator(seed: UInt64(200 + i))
            for name in a.layers.keys.sorted() {
                let b = a.layers[name]!.b
                b.value = try Tensor(shape: b.value.shape, values: (0..<b.value.count).map { _ in Float.random(in: -0.02...0.02, using: &g) })
            }
            adapters["lora\(i)"] = a
        }
        let prompt = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 4)
        let engine = GenerationEngine(loaded: loaded, adapters: adapters,
                                      limits: .init(maxRunning: counts.max()!, maxWaiting: 4 * counts.max()!, maxTokensPerRequest: 4096))
        var options = ServerOptions(baseName: "base")
        options.port = 0
        var quiet = Logger(label: "lorikeet.bench-serve")
        quiet.logLevel = .warning  // no access-log line per request
        let server = try OpenAIServer(engine: engine, options: options, logger: quiet)
        let result = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let (maxTokens, perClient, soak) = (self.maxTokens, requestsPerClient, soakSeconds)
        Task {
            do {
                let ports = AsyncStream<Int>.makeStream()
                let group = server.serviceGroup(signals: []) { ports.continuation.yield($0) }
                let running = Task { try await group.run() }
                var it = ports.stream.makeAsyncIterator()
                let port = await it.next()!
                let url = "http://127.0.0.1:\(port)/v1/completions"
                var rows: [[String: Any]] = []
                for c in counts {
                    for mode in ["one adapter", "adapter per client"] {
                        let r = try await Self.load(url: url, clients: c, perClient: perClient, maxTokens: maxTokens, prompt: prompt) { client in
                            mode == "one adapter" ? "lora0" : "lora\(client)"
                        }
                        rows.append(r.merging(["clients": c, "mode": mode]) { $1 })
                    }
                }
                // The largest count again, one request at a time.
                let n = counts.max()!
                let sequential = try await Self.load(url: url, clients: 1, perClient: n, maxTokens: maxTokens, prompt: prompt) { _ in "lora0" }
                rows.append(sequential.merging(["clients": 1, "mode": "\(n) sequential requests"]) { $1 })
                if soak > 0 {
                    let end = Date().addingTimeInterval(soak)
                    var samples: [(Double, Int)] = []
                    let start = Date()
                    while Date() < end {
                        _ = try await Self.load(url: url, clients: 4, perClient: 1, maxTokens: maxTokens, prompt: prompt) { "lora\($0)" }
                        samples.append((Date().timeIntervalSince(start), MemoryStats.currentResidentBytes ?? 0))
                    }
                    result.soak = samples
                }
                result.rows = rows
                await group.triggerGracefulShutdown()
                try await running.value
            } catch { result.error = error }
            done.signal()
        }
        done.wait()
        if let error = result.error { throw error }
        if json {
            var obj: [String: Any] = ["threads": Parallel.threadCount, "max_tokens": maxTokens, "rows": result.rows]
            if !result.soak.isEmpty { obj["soak_rss_bytes"] = result.soak.map { ["seconds": $0.0, "rss_bytes": $0.1] } }
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("bench serve: \(maxTokens) tokens per request, \(Parallel.threadCount) threads, synthetic r\(rank) all-linear adapters")
        print("clients  mode                       requests/s  gen tokens/s  TTFT p50 / p95 (s)  per-token p50 / p95 (ms)")
        for r in result.rows {
            let mode = (r["mode"] as! String).padding(toLength: 25, withPad: " ", startingAt: 0)
            print(String(format: "%7d  ", r["clients"] as! Int) + mode + String(format: "  %10.2f  %12.1f  %8.2f / %-8.2f  %10.1f / %.1f",
                         r["requests_per_second"] as! Double, r["tokens_per_second"] as! Double, r["ttft_p50"] as! Double,
                         r["ttft_p95"] as! Double, 1000 * (r["per_token_p50"] as! Double), 1000 * (r["per_token_p95"] as! Double)))
        }
        if let first = result.soak.first, let last = result.soak.last {
            let peak = result.soak.map(\.1).max()!
            print(String(format: "soak %.0f s: RSS %@ after the first round, %@ at the end, peak %@", last.0,
                         MemoryStats.formatBytes(first.1), MemoryStats.formatBytes(last.1), MemoryStats.formatBytes(peak)))
        }
    }

    final class ResultBox: @unchecked Sendable {
        var rows: [[String: Any]] = []
        var soak: [(Double, Int)] = []
        var error: Error?
    }

    /// `clients` concurrent loops of `perClient` streaming requests; timings per request.
    static func load(url: String, clients: Int, perClient: Int, maxTokens: Int, prompt: String,
                     model: @escaping @Sendable (Int) -> String) async throws -> [String: Any] {
        let start = Date()
        let timings = try await withThrowingTaskGroup(of: [StreamTiming].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var out: [StreamTiming] = []
                    for _ in 0..<perClient {
                        let body = try JSONSerialization.data(withJSONObject: ["model": model(client), "prompt": prompt, "max_tokens": maxTokens,
                                                                               "temperature": 0, "stream": true, "stream_options": ["include_usage": true]])
                        out.append(try await StreamClient.shared.run(url: url, body: body))
                    }
                    return out
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let wall = Date().timeIntervalSince(start)
        let tokens = timings.reduce(0) { $0 + $1.tokens }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let s = values.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
        }
        let ttft = timings.map(\.firstToken)
        let perToken = timings.filter { $0.tokens > 1 }.map { ($0.total - $0.firstToken) / Double($0.tokens - 1) }
        return ["requests": timings.count, "seconds": wall, "requests_per_second": Double(timings.count) / wall,
                "tokens_per_second": Double(tokens) / wall, "ttft_p50": percentile(ttft, 0.5), "ttft_p95": percentile(ttft, 0.95),
                "per_token_p50": percentile(perToken, 0.5), "per_token_p95": percentile(perToken, 0.95)]
    }
}

struct StreamTiming: Sendable {
    var firstToken: Double
    var total: Double
    var tokens: Int
}

/// Streaming requests over one URLSession: the time to the first text chunk, the total, and
/// the completion tokens from the usage chunk.
final class StreamClient: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    static let shared = StreamClient()
    private let lock = NSLock()
    private var states: [Int: State] = [:]
    private lazy var session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 600
        c.httpMaximumConnectionsPerHost = 64
        return URLSession(configuration: c, delegate: self, delegateQueue: nil)
    }()

    final class State {
        let start = Date()
        var first: Double?
        var buffer = Data()
        var status = 0
        var continuation: CheckedContinuation<StreamTiming, Error>?
    }

    func run(url: String, body: Data) async throws -> StreamTiming {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        return try await withCheckedThrowingContinuation { continuation in
            let task = lock.withLock { session.dataTask(with: request) }
            let state = State()
            state.continuation = continuation
            lock.withLock { states[task.taskIdentifier] = state }
            task.resume()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { states[dataTask.taskIdentifier]?.status = (response as? HTTPURLResponse)?.statusCode ?? 0 }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.withLock {
            guard let s = states[dataTask.taskIdentifier] else { return }
            if s.first == nil, String(decoding: data, as: UTF8.self).contains("\"text\":\""),
               !String(decoding: data, as: UTF8.self).contains("\"text\":\"\"") {
                s.first = Date().timeIntervalSince(s.start)
            }
            s.buffer.append(data)
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let s = lock.withLock({ states.removeValue(forKey: task.taskIdentifier) }) else { return }
        let total = Date().timeIntervalSince(s.start)
        if let error { return s.continuation!.resume(throwing: error) }
        guard s.status == 200 else {
            return s.continuation!.resume(throwing: CommandFailure("HTTP \(s.status): \(String(decoding: s.buffer, as: UTF8.self).prefix(300))"))
        }
        let text = String(decoding: s.buffer, as: UTF8.self)
        let tokens = text.range(of: #""completion_tokens":\s*(\d+)"#, options: .regularExpression)
            .flatMap { Int(text[$0].split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) } ?? 0
        s.continuation!.resume(returning: StreamTiming(firstToken: s.first ?? total, total: total, tokens: tokens))
    }
}
