// Choosing the next token from logits, in the order transformers applies its processors:
// repetition penalty, temperature, top-k, top-p; temperature 0 means greedy (argmax).

/// Sampling settings.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 = greedy.
    public var temperature: Float = 0
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public var topP: Float = 1
    /// > 1 discourages tokens already in the context (CTRL paper's rule, as transformers).
    public var repetitionPenalty: Float = 1
    /// Seed of the sampling stream.
    public var seed: UInt64 = 0

    /// Creates settings (defaults: greedy, no penalty).
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }
}

/// A seeded token sampler.
public struct Sampler: Sendable {
    public let options: SamplingOptions
    var generator: SeededGenerator

    /// A sampler whose stream starts at `options.seed`.
    public init(_ options: SamplingOptions) {
        self.options = options
        generator = SeededGenerator(seed: options.seed)
    }

    /// Picks the next token given the logits of the last position and the context so far.
    public mutating func next(logits input: [Float], context: [Int]) -> Int {
        var logits = input
        if options.repetitionPenalty != 1 {
            for id in Set(context) where id >= 0 && id < logits.count {
                logits[id] = logits[id] < 0 ? logits[id] * options.repetitionPenalty : logits[id] / options.repetitionPenalty
            }
        }
        if options.temperature <= 0 {
            var best = 0
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return best
        }
        var order = logits.indices.map { ($0, logits[$0] / options.temperature) }
        order.sort { $0.1 > $1.1 }
        if options.topK > 0 && options.topK < order.count { order.removeSubrange(options.topK...) }
        let m = order[0].1
        var probs = order.map { exp(Double($0.1 - m)) }
        var total = probs.reduce(0, +)
        if options.topP < 1 {
            var cumulative = 0.0
            var keep = probs.count
            for (i, p) in probs.enumerated() {
                cumulative += p / total
                if cumulative >= Double(options.topP) { keep = i + 1; break }
            }
            probs.removeSubrange(keep...)
            order.removeSubrange(keep...)
            total = probs.reduce(0, +)
        }
        var u = Double(generator.nextFloat()) * total
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return order[i].0 }
        }
        return order[probs.count - 1].0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorCore
