// The server's Prometheus metrics (swift-prometheus' registry, rendered at GET /metrics):
// requests by path and status, generated tokens, time to first token and request latency
// histograms, and the engine's running batch, queue and mean batch occupancy.
import Foundation
import Prometheus

final class ServerMetrics: @unchecked Sendable {  // the registry and its metrics are thread-safe; the descriptor is a plain value
    let registry = PrometheusCollectorRegistry()
    let tokens: Counter
    let firstToken: DurationHistogram
    let latency: DurationHistogram
    let running: Gauge, waiting: Gauge, occupancy: Gauge

    init() {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "lorikeet", metricName: metric, unitName: unit, helpText: help)
        }
        tokens = registry.makeCounter(descriptor: name("generated_tokens", "total", "Tokens generated for completions."))
        let buckets: [Duration] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120].map { .milliseconds(Int64($0 * 1000)) }
        firstToken = registry.makeDurationHistogram(descriptor: name("time_to_first_token", "seconds", "Seconds from a completion request to its first token."),
                                                    buckets: buckets)
        latency = registry.makeDurationHistogram(descriptor: name("request_duration", "seconds", "Seconds from request to the end of its response."),
                                                 buckets: buckets)
        running = registry.makeGauge(descriptor: name("running", "sequences", "Sequences in the decoding batch."))
        waiting = registry.makeGauge(descriptor: name("queued", "requests", "Requests waiting for a place in the batch."))
        occupancy = registry.makeGauge(descriptor: name("batch_occupancy", "rows", "Mean rows per decode step since start."))
        requests = name("requests", "total", "HTTP requests by path and status.")
    }

    let requests: MetricNameDescriptor

    func record(path: String, status: Int, completionTokens: Int, firstToken seconds: Double?, total: Double) {
        registry.makeCounter(descriptor: requests, labels: [("path", path), ("status", String(status))]).increment()
        if completionTokens > 0 { tokens.increment(by: Int64(completionTokens)) }
        if let seconds { firstToken.recordNanoseconds(Int64(seconds * 1e9)) }
        latency.recordNanoseconds(Int64(total * 1e9))
    }

    /// The text exposition format, with the engine's current figures.
    func render(_ stats: EngineStatistics) -> [UInt8] {
        running.set(to: Double(stats.running))
        waiting.set(to: Double(stats.waiting))
        occupancy.set(to: stats.steps == 0 ? 0 : Double(stats.rowSum) / Double(stats.steps))
        return registry.emitToBuffer()
    }
}
