// Incremental decoding with a KV cache: the prompt runs through once, then one token per
// step. Only the last position's logits are formed (the output head is the largest product).
import TensorCore

extension LlamaModel {
    /// Runs `ids` (the next positions after what `cache` holds) and returns the logits of
    /// the last of them ([V]). The cache grows by ids.count.
    public func step(_ ids: [Int32], cache: KVCache) throws -> [Float] {
        precondition(!ids.isEmpty)
        let n = ids.count
        let tape = Tape(recordsGradients: false)
        let positions = (0..<n).map { Int32(cache.length + $0) }
        var x = try embed(tape, ids: ids)
        for layer in 0..<configuration.layerCount {
            x = tape.keepOnly(try decoderBlock(tape, x, layer: layer, batch: 1, length: n, positions: positions, segments: nil, cache: .single(cache)))
        }
        cache.commit(n)
        let last = try tape.value(x).slice((n - 1)..<n)
        let h = try finalNorm(tape, tape.keepOnly(tape.input(last)))
        return tape.value(try capLogits(tape, try tape.linear(h, weight: tape.parameter(parameter(headName))))).floats
    }

    /// One new token for each of several sequences, each continuing its own cache (continuous
    /// batching): embeddings, norms, the linear products and the head run once over all rows;
    /// attention runs per sequence against its cache. Returns each row's logits ([V] each);
    /// every cache grows by one. Adapters see the rows in `tokens`' order (a router attached
    /// as the model's adapters may give each row its own).
    public func step(tokens: [Int32], caches: [KVCache]) throws -> [[Float]] {
        precondition(!tokens.isEmpty && tokens.count == caches.count, "one token per cache")
        for cache in caches where cache.length >= cache.capacity {
            throw TensorError.invalidShape(op: "batched decode", shape: [cache.length], expected: "a cache with room (capacity \(cache.capacity))")
        }
        let b = tokens.count
        let tape = Tape(recordsGradients: false)
        let positions = caches.map { Int32($0.length) }
        var x = try embed(tape, ids: tokens)
        for layer in 0..<configuration.layerCount {
            x = tape.keepOnly(try decoderBlock(tape, x, layer: layer, batch: b, length: 1, positions: positions, segments: nil, cache: .rows(caches)))
        }
        for cache in caches { cache.commit(1) }
        let h = try finalNorm(tape, x)
        let logits = tape.value(try capLogits(tape, try tape.linear(h, weight: tape.parameter(parameter(headName)))))
        let v = logits.count / b
        let all = logits.floats
        return (0..<b).map { Array(all[($0 * v)..<(($0 + 1) * v)]) }
    }

    /// Generates up to `maxNewTokens` after `prompt`, stopping at any of `stopTokens` (which
    /// is not returned) or when `onToken` returns false. Returns the new tokens.
    public func generate(prompt: [Int], maxNewTokens: Int, sampling: SamplingOptions, stopTokens: Set<Int>,
                         onToken: (Int) -> Bool = { _ in true }) throws -> [Int] {
        guard !prompt.isEmpty else { throw TensorError.invalidShape(op: "generate", shape: [0], expected: "a non-empty prompt") }
        let capacity = min(configuration.maxPositions, prompt.count + maxNewTokens)
        guard prompt.count < capacity || maxNewTokens == 0 else {
            throw TensorError.invalidShape(op: "generate", shape: [prompt.count],
                                           expected: "a prompt shorter than the context (\(configuration.maxPositions))")
        }
        let cache = KVCache(configuration: configuration, capacity: capacity, dtype: kvCacheDType)
        var sampler = Sampler(sampling)
        var context = prompt
        var out: [Int] = []
        var logits = try step(prompt.map { Int32($0) }, cache: cache)
        while out.count < maxNewTokens {
            let next = sampler.next(logits: logits, context: context)
            if stopTokens.contains(next) { break }
            out.append(next)
            context.append(next)
            if !onToken(next) || cache.length >= capacity { break }
            logits = try step([Int32(next)], cache: cache)
        }
        return out
    }
}
