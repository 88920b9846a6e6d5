// `lorikeet generate`: one completion, streamed to stdout as tokens arrive.
import ArgumentParser
import Foundation
import Llama
import Tokenizers
import ChatTemplates
import FineTuning

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt (streams tokens as they come).")

    @OptionGroup var model: ModelOption
    @OptionGroup var decode: DecodeOption
    @OptionGroup var adapter: AdapterOption
    @Option(help: "The prompt text.") var prompt: String
    @Flag(help: "Wrap the prompt as a user message in the model's chat template.") var chat = false
    @Option(help: "System message (with --chat).") var system: String?
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print one JSON object (text, token ids, timings) instead of streaming.") var json = false

    func run() throws {
        compute.apply()
        let source = try model.open()
        let loaded = try decode.load(source)
        let adapters = try adapter.load(into: loaded.model)
        var text = prompt
        var addSpecial = true
        if chat {
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: prompt))
            text = try loaded.renderChat(messages)
            addSpecial = false  // the template writes BOS itself when the model wants one
        }
        let ids = loaded.tokenizer.encode(text, addSpecialTokens: addSpecial)
        // With several adapters, generate once with each (switching costs nothing: the base stays loaded).
        let runs: [(String?, LoRAAdapter?)] = adapters.count > 1 ? adapters.map { ($0.name, $0.adapter) } : [(nil, nil)]
        var results: [[String: Any]] = []
        for (name, lora) in runs {
            if let lora { try lora.attach(to: loaded.model) }
            if let name, !json { print("[\(name)] ", terminator: "") }
            let result = try streamCompletion(loaded, prompt: ids, sampling: sampling, echo: !json)
            if !json { print() }
            var obj: [String: Any] = [
                "text": result.text, "tokens": result.tokens, "prompt_tokens": ids.count,
                "prompt_tokens_per_second": result.promptTokensPerSecond,
                "generation_tokens_per_second": result.generationTokensPerSecond,
                "stop_reason": result.stopReason,
            ]
            if let name { obj["adapter"] = name }
            results.append(obj)
        }
        if json {
            let value: Any = results.count == 1 ? results[0] : results
            print(String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

struct CompletionResult {
    var text: String
    var tokens: [Int]
    var promptTokensPerSecond: Double
    var generationTokensPerSecond: Double
    var stopReason: String
}

/// Generates after `prompt`, printing text as complete characters arrive when `echo`.
func streamCompletion(_ loaded: LoadedModel, prompt: [Int], sampling: SamplingArguments, echo: Bool) throws -> CompletionResult {
    var detok = StreamingDetokenizer(tokenizer: loaded.tokenizer, skipSpecialTokens: true)
    var text = ""
    var stopReason = "length"
    var firstTokenAt: Double?
    let start = Date()
    let tokens = try loaded.model.generate(prompt: prompt, maxNewTokens: sampling.maxTokens, sampling: sampling.options,
                                           stopTokens: loaded.stopTokenIDs) { id in
        if firstTokenAt == nil { firstTokenAt = Date().timeIntervalSince(start) }
        let piece = detok.append(id)
        text += piece
        if let hit = sampling.stopStrings.first(where: { text.contains($0) }) {
            let cut = text.range(of: hit)!.lowerBound
            let shown = text.count - piece.count
            if echo { print(String(text[..<cut].dropFirst(shown)), terminator: "") }
            text = String(text[..<cut])
            stopReason = "stop string"
            return false
        }
        if echo { print(piece, terminator: ""); flushStandardOutput() }
        return true
    }
    if stopReason != "stop string" {
        let rest = detok.finish()
        text += rest
        if echo { print(rest, terminator: "") }
        if tokens.count < sampling.maxTokens { stopReason = "end of turn" }
    }
    let total = Date().timeIntervalSince(start)
    let promptTime = firstTokenAt ?? total
    let genTime = total - promptTime
    return CompletionResult(text: text, tokens: tokens,
                            promptTokensPerSecond: Double(prompt.count) / max(promptTime, 1e-9),
                            generationTokensPerSecond: tokens.count > 1 ? Double(tokens.count - 1) / max(genTime, 1e-9) : 0,
                            stopReason: stopReason)
}
