// Continuous batching over one loaded model: requests wait in a bounded queue, enter the running
// batch at the next step (their prompt runs through once, alone), then decode together — one
// token per sequence per step, the base's products once for the whole batch, each adapter's
// products on its own rows (AdapterRouter). A sequence leaves when it stops, hits its token
// limit, or its client goes away; its cache goes with it. All model work happens on one thread.
import Foundation
import TensorCore
import Tokenizers
import Llama
import FineTuning

/// One completion to compute.
public struct GenerationRequest: Sendable {
    /// Prompt token ids (chat template already applied).
    public var prompt: [Int]
    /// The adapter's name, nil for the base.
    public var adapter: String?
    /// Most tokens to generate.
    public var maxTokens: Int
    public var sampling: SamplingOptions
    /// Texts that end the completion (not included).
    public var stop: [String]

    public init(prompt: [Int], adapter: String?, maxTokens: Int, sampling: SamplingOptions, stop: [String] = []) {
        self.prompt = prompt
        self.adapter = adapter
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stop = stop
    }
}

/// What a running completion reports.
public enum GenerationEvent: Sendable, Equatable {
    /// New text (complete characters; a possible start of a stop text is held back until decided).
    case text(String)
    /// The end: "stop" (end token or stop text) or "length" (token limit or context), with usage.
    case finished(reason: String, promptTokens: Int, completionTokens: Int)
}

/// Why a request was not taken.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case queueFull(limit: Int)
    case unknownAdapter(String)
    case contextExceeded(tokens: Int, limit: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case let .queueFull(limit): "the server is busy: \(limit) requests are already waiting; retry later"
        case let .unknownAdapter(name): "the model '\(name)' does not exist"
        case let .contextExceeded(tokens, limit): "this request needs \(tokens) tokens (prompt + max_tokens) but at most \(limit) are allowed"
        case .shuttingDown: "the server is shutting down"
        }
    }
}

/// A snapshot of the engine's load.
public struct EngineStatistics: Sendable {
    public var running: Int
    public var waiting: Int
    public var generatedTokens: Int
    public var steps: Int
    /// Sum over decode steps of the rows in the batch (occupancy = rowSum / steps).
    public var rowSum: Int
    /// Requests dropped because their client went away (or shutdown's grace ran out).
    public var cancelled = 0
}

/// The batching loop and its queue.
public final class GenerationEngine: @unchecked Sendable {
    /// Limits of the engine.
    public struct Limits: Sendable {
        /// Sequences decoding together.
        public var maxRunning = 8
        /// Requests that may wait for a place.
        public var maxWaiting = 64
        /// Most prompt + completion tokens of one request (and at most the model's context).
        public var maxTokensPerRequest = 4096
        public init(maxRunning: Int = 8, maxWaiting: Int = 64, maxTokensPerRequest: Int = 4096) {
            self.maxRunning = maxRunning
            self.maxWaiting = maxWaiting
            self.maxTokensPerRequest = maxTokensPerRequest
        }
    }

    public let loaded: LoadedModel
    public let limits: Limits
    let router = AdapterRouter()
    private let condition = NSCondition()
    private var waiting: [Sequence] = []
    private var running: [Sequence] = []
    private var stopping = false
    private var stopped = false
    /// While true the loop admits no waiting request (running ones go on); see `holdAdmission`.
    private var admissionHeld = false
    private var thread: Thread?
    private var stats = EngineStatistics(running: 0, waiting: 0, generatedTokens: 0, steps: 0, rowSum: 0)
    /// Adapter names requests may use now (changes apply to the router between steps, on the engine thread).
    private var names: Set<String> = []
    private var changes: [(name: String, adapter: LoRAAdapter?)] = []

    /// An engine over `loaded` with `adapters` by name; the loop starts at once.
    public init(loaded: LoadedModel, adapters: [String: LoRAAdapter] = [:], limits: Limits = Limits()) {
        self.loaded = loaded
        self.limits = limits
        for (name, adapter) in adapters { router.add(adapter, named: name, to: loaded.model) }
        names = Set(adapters.keys)
        let t = Thread { [weak self] in self?.loop() }
        t.name = "lorikeet-engine"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// The most tokens one request may use: the limit, within the model's context.
    public var tokenLimit: Int { min(limits.maxTokensPerRequest, loaded.model.configuration.maxPositions) }

    /// Names of the loaded adapters, sorted.
    public var adapterNames: [String] { condition.withLock { names.sorted() } }

    /// Loads (or replaces) an adapter under `name`; requests may use it at once, the batch from its next step.
    public func addAdapter(_ adapter: LoRAAdapter, named name: String) {
        condition.withLock {
            names.insert(name)
            changes.append((name, adapter))
            condition.signal()
        }
    }

    /// Unloads `name` for new requests; those running or waiting with it finish with it first.
    /// False when there is no such adapter.
    public func removeAdapter(named name: String) -> Bool {
        condition.withLock {
            guard names.remove(name) != nil else { return false }
            changes.append((name, nil))
            condition.signal()
            return true
        }
    }

    /// Applies added and removed adapters (engine thread, lock held, between steps). A removed
    /// adapter stays in the router while a queued or running request still uses it.
    private func applyChanges() {
        var kept: [(name: String, adapter: LoRAAdapter?)] = []
        for change in changes {
            if let adapter = change.adapter {
                router.add(adapter, named: change.name, to: loaded.model)
            } else if (running + waiting).contains(where: { $0.request.adapter == change.name }) {
                kept.append(change)
            } else if !names.contains(change.name) {
                router.remove(change.name)
            }
        }
        changes = kept
    }

    public var statistics: EngineStatistics {
        condition.withLock {
            var s = stats
            s.running = running.count
            s.waiting = waiting.count
            return s
        }
    }

    /// Holds waiting requests out of the batch (true) or lets them in at the next step (false).
    /// Tests use it to make requests that were sent together start together.
    func holdAdmission(_ hold: Bool) {
        condition.withLock {
            admissionHeld = hold
            condition.signal()
        }
    }

    /// Queues a request; its events arrive on the returned stream. Ending the stream's iteration
    /// early (a client gone) cancels the request and frees its place at the next step.
    /// - Throws: `EngineError` for a full queue, an unknown adapter, too many tokens, or shutdown.
    public func submit(_ request: GenerationRequest) throws -> AsyncStream<GenerationEvent> {
        let needed = request.prompt.count + request.maxTokens
        guard needed <= tokenLimit else { throw EngineError.contextExceeded(tokens: needed, limit: tokenLimit) }
        guard !request.prompt.isEmpty else { throw EngineError.contextExceeded(tokens: 0, limit: tokenLimit) }
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream(bufferingPolicy: .unbounded)
        let sequence = Sequence(request: request, continuation: continuation, tokenizer: loaded.tokenizer)
        try condition.withLock {
            guard !stopping else { throw EngineError.shuttingDown }
            if let name = request.adapter, !names.contains(name) { throw EngineError.unknownAdapter(name) }
            guard waiting.count < limits.maxWaiting else { throw EngineError.queueFull(limit: limits.maxWaiting) }
            waiting.append(sequence)
            condition.signal()
        }
        continuation.onTermination = { [weak self, weak sequence] _ in
            guard let self, let sequence else { return }
            self.condition.withLock {
                sequence.cancelled = true
                self.condition.signal()
            }
        }
        return stream
    }

    /// Stops taking requests; those running or waiting finish, or are cancelled after `grace`
    /// seconds; returns when the loop has ended.
    public func shutdown(grace: Double) {
        let deadline = Date().addingTimeInterval(grace)
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        condition.lock()
        while !stopped {
            if Date() >= deadline {
                for s in running + waiting { s.cancelled = true }
            }
            condition.signal()
            _ = condition.wait(until: min(deadline.addingTimeInterval(60), Date().addingTimeInterval(0.05)))
        }
        condition.unlock()
    }

    // MARK: The loop (engine thread only)

    /// A request in the engine (touched under the lock, or by the engine thread alone).
    final class Sequence: @unchecked Sendable {
        let request: GenerationRequest
        let continuation: AsyncStream<GenerationEvent>.Continuation
        var cancelled = false
        var cache: KVCache?
        var sampler: Sampler
        var context: [Int]
        var generated = 0
        var last = 0
        var detokenizer: StreamingDetokenizer
        /// Text decoded but not yet sent (it may be the start of a stop text).
        var pending = ""

        init(request: GenerationRequest, continuation: AsyncStream<GenerationEvent>.Continuation, tokenizer: any Tokenizer) {
            self.request = request
            self.continuation = continuation
            sampler = Sampler(request.sampling)
            context = request.prompt
            detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        }
    }

    private func loop() {
        while true {
            // Take new work, or wait for some.
            condition.lock()
            let dropped = (running + waiting).filter(\.cancelled)
            stats.cancelled += dropped.count
            running.removeAll { $0.cancelled }
            waiting.removeAll { $0.cancelled }
            if !dropped.isEmpty {
                // finish() runs onTermination, which takes this lock: end the streams outside it
                // (shutdown's grace cancels streams whose handlers still iterate them).
                condition.unlock()
                for s in dropped {
                    s.continuation.finish()
                    s.cache = nil
                }
                condition.lock()
            }
            applyChanges()
            while running.isEmpty && (waiting.isEmpty || admissionHeld) && !stopping {
                condition.wait()
                applyChanges()
            }
            if running.isEmpty && waiting.isEmpty && stopping {
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            var admitted: [Sequence] = []
            while !admissionHeld || stopping, running.count + admitted.count < limits.maxRunning, !waiting.isEmpty { admitted.append(waiting.removeFirst()) }
            condition.unlock()

            for s in admitted {
                do {
                    try prefill(s)
                    condition.withLock { running.append(s) }
                } catch {
                    finish(s, reason: "error")
                }
            }
            condition.lock()
            let batch = running.filter { !$0.cancelled && $0.cache != nil }
            condition.unlock()
            guard !batch.isEmpty else { continue }
            do {
                try decode(batch)
            } catch {
                for s in batch { finish(s, reason: "error") }
                condition.withLock { running.removeAll { r in batch.contains { $0 === r } } }
            }
        }
    }

    /// The prompt, alone (its own adapter), then the first token.
    private func prefill(_ s: Sequence) throws {
        let capacity = s.request.prompt.count + s.request.maxTokens
        let cache = KVCache(configuration: loaded.model.configuration, capacity: capacity, dtype: loaded.model.kvCacheDType)
        condition.withLock { router.groups = [(s.request.adapter, 0..<s.request.prompt.count)] }  // every prompt row
        let logits = try loaded.model.step(s.request.prompt.map { Int32($0) }, cache: cache)
        s.cache = cache
        accept(s, logits: logits)
    }

    /// One token for every running sequence: rows ordered by adapter, one batched step.
    private func decode(_ batch: [Sequence]) throws {
        let ordered = batch.enumerated().sorted {
            ($0.element.request.adapter ?? "", $0.offset) < ($1.element.request.adapter ?? "", $1.offset)
        }.map(\.element)
        var groups: [(name: String?, rows: Range<Int>)] = []
        for (i, s) in ordered.enumerated() {
            if let last = groups.last, last.name == s.request.adapter {
                groups[groups.count - 1].rows = last.rows.lowerBound..<(i + 1)
            } else {
                groups.append((s.request.adapter, i..<(i + 1)))
            }
        }
        condition.withLock { router.groups = groups }
        let logits = try loaded.model.step(tokens: ordered.map { Int32($0.last) }, caches: ordered.map { $0.cache! })
        condition.withLock {
            stats.steps += 1
            stats.rowSum += ordered.count
        }
        for (s, row) in zip(ordered, logits) { accept(s, logits: row) }
    }

    /// Samples the next token of `s` from `logits` and reports it, or finishes `s`.
    private func accept(_ s: Sequence, logits: [Float]) {
        let next = s.sampler.next(logits: logits, context: s.context)
        if loaded.stopTokenIDs.contains(next) { return finish(s, reason: "stop") }
        s.generated += 1
        s.last = next
        s.context.append(next)
        condition.withLock { stats.generatedTokens += 1 }
        s.pending += s.detokenizer.append(next)
        if let hit = s.request.stop.compactMap({ stop in s.pending.range(of: stop).map { ($0, stop) } }).min(by: { $0.0.lowerBound < $1.0.lowerBound }) {
            let before = String(s.pending[..<hit.0.lowerBound])
            if !before.isEmpty { s.continuation.yield(.text(before)) }
            s.pending = ""
            return finish(s, reason: "stop", keepTail: false)
        }
        // Send all but the longest tail that could still begin a stop text.
        let hold = s.request.stop.map { stop in
            (1..<max(1, stop.count)).reversed().first { s.pending.hasSuffix(String(stop.prefix($0))) } ?? 0
        }.max() ?? 0
        if s.pending.count > hold {
            let cut = s.pending.index(s.pending.endIndex, offsetBy: -hold)
            s.continuation.yield(.text(String(s.pending[..<cut])))
            s.pending = String(s.pending[cut...])
        }
        if s.generated >= s.request.maxTokens || (s.cache.map { $0.length >= $0.capacity } ?? false) { finish(s, reason: "length") }
    }

    private func finish(_ s: Sequence, reason: String, keepTail: Bool = true) {
        let tail = s.pending + s.detokenizer.finish()
        if !tail.isEmpty && keepTail { s.continuation.yield(.text(tail)) }
        s.pending = ""
        s.continuation.yield(.finished(reason: reason, promptTokens: s.request.prompt.count, completionTokens: s.generated))
        s.continuation.finish()
        condition.withLock {
            s.cache = nil
            running.removeAll { $0 === s }
        }
    }
}
