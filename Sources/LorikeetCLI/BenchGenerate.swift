// `lorikeet bench generate`: load time, prompt processing and generation speed.
import ArgumentParser
import Foundation
import Llama
import TensorCore

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Load time, prompt tokens/s and greedy generation tokens/s of a model.")

    @OptionGroup var model: ModelOption
    @OptionGroup var decode: DecodeOption
    @Option(name: .customLong("prompt-tokens"), help: "Prompt length in tokens.") var promptTokens = 256
    @Option(name: .customLong("new-tokens"), help: "Tokens to generate.") var newTokens = 64
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        compute.apply()
        let t0 = Date()
        let source = try model.open()
        let loaded = try decode.load(source)
        let load = Date().timeIntervalSince(t0)
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: promptTokens)
        let prompt = Array(loaded.tokenizer.encode(text, addSpecialTokens: false).prefix(promptTokens))
        let cache = KVCache(configuration: loaded.model.configuration, capacity: prompt.count + newTokens + 1, dtype: loaded.model.kvCacheDType)
        let t1 = Date()
        var logits = try loaded.model.step(prompt.map { Int32($0) }, cache: cache)
        let promptTime = Date().timeIntervalSince(t1)
        var sampler = Sampler(SamplingOptions())
        let t2 = Date()
        for _ in 0..<newTokens {
            let next = sampler.next(logits: logits, context: [])
            logits = try loaded.model.step([Int32(next)], cache: cache)
        }
        let genTime = Date().timeIntervalSince(t2)
        let result: [String: Any] = [
            "threads": Parallel.threadCount, "load_seconds": load,
            "prompt_tokens": prompt.count, "prompt_tokens_per_second": Double(prompt.count) / promptTime,
            "generated_tokens": newTokens, "generation_tokens_per_second": Double(newTokens) / genTime,
        ]
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "load %.2f s · prompt %d tokens at %.1f tokens/s · generation %d tokens at %.1f tokens/s (threads %d)",
                         load, prompt.count, Double(prompt.count) / promptTime, newTokens, Double(newTokens) / genTime, Parallel.threadCount))
        }
    }
}
