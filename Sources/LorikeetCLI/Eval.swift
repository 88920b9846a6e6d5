// `lorikeet eval`: mean loss (nats per target token) and perplexity over a JSONL file.
import ArgumentParser
import Foundation
import Llama
import TensorCore
import FineTuning

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mean loss and perplexity of a model over a JSONL file.",
        discussion: """
        Each line is {"text": …} (every token after the first is a target),
        {"prompt": …, "completion": …} (only the completion's tokens are targets), or
        {"messages": […]} / alpaca {"instruction","input","output"} (the assistant's tokens are targets).
        """)

    @OptionGroup var model: ModelOption
    @OptionGroup var adapter: AdapterOption
    @Option(help: "A .jsonl file.") var data: String
    @Option(name: .customLong("max-seq-length"), help: "Truncate longer examples to this many tokens (default: the model's context).")
    var maxSeqLength: Int?
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON: loss, perplexity, tokens, examples.") var json = false

    func run() throws {
        compute.apply()
        let loaded = try ModelLoader.load(model.open())
        let adapters = try adapter.load(into: loaded.model)
        let limit = min(maxSeqLength ?? loaded.model.configuration.maxPositions, loaded.model.configuration.maxPositions)
        let encoder = DatasetEncoder(tokenizer: loaded.tokenizer, chatTemplate: loaded.chatTemplate,
                                     bosToken: loaded.bosToken, eosToken: loaded.eosToken)
        let examples = try readEvalExamples(path: data, tokenizer: loaded.tokenizer, encoder: encoder)
        // With several adapters, evaluate each in turn on the same loaded base.
        let runs: [(String?, LoRAAdapter?)] = adapters.count > 1 ? adapters.map { ($0.name, $0.adapter) } : [(adapters.first?.name, nil)]
        var rows: [[String: Any]] = []
        for (name, lora) in runs {
            if let lora { try lora.attach(to: loaded.model) }
            var totalLoss = 0.0
            var totalTokens = 0
            var truncated = 0
            for ex in examples {
                var ids = ex.ids, targets = ex.targets
                if ids.count > limit { ids = Array(ids.prefix(limit)); targets = Array(targets.prefix(limit)); truncated += 1 }
                let counted = targets.filter { $0 != -100 }.count
                if counted == 0 { continue }
                let tape = Tape(recordsGradients: false)
                let loss = try loaded.model.loss(tape, ids: ids.map { Int32($0) }, targets: targets, batch: 1, length: ids.count, normalizer: 1)
                totalLoss += Double(tape.value(loss).scalar)
                totalTokens += counted
            }
            guard totalTokens > 0 else { throw CommandFailure("\(data): no target tokens to evaluate") }
            let mean = totalLoss / Double(totalTokens)
            var row: [String: Any] = ["loss": mean, "perplexity": exp(mean), "tokens": totalTokens,
                                      "examples": examples.count, "truncated": truncated]
            if let name { row["adapter"] = name }
            rows.append(row)
            if !json {
                let label = name.map { "[\($0)] " } ?? ""
                print(label + String(format: "loss %.4f nats/token, perplexity %.3f over %d tokens in %d examples", mean, exp(mean), totalTokens, examples.count))
                if truncated > 0 { print("\(truncated) examples were truncated to \(limit) tokens") }
            }
        }
        if json {
            let value: Any = rows.count == 1 ? rows[0] : rows
            print(String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

struct EvalExample {
    var ids: [Int]
    /// targets[i] is the token expected after position i, −100 where not counted.
    var targets: [Int32]
}

/// Reads {"text"} / {"prompt","completion"} lines as the eval command defines them; other
/// formats (messages, alpaca) go through the training encoder (assistant tokens are the
/// targets). A bad line is an error naming file:line.
func readEvalExamples(path: String, tokenizer: any Tokenizer, encoder: DatasetEncoder) throws -> [EvalExample] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot be read") }
    var out: [EvalExample] = []
    for (n, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.trimmingCharacters(in: .whitespaces)
        if line.isEmpty { continue }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw CommandFailure("\(path):\(n + 1): not a JSON object")
        }
        if let text = obj["text"] as? String {
            let ids = tokenizer.encode(text, addSpecialTokens: true)
            out.append(EvalExample(ids: ids, targets: ids.dropFirst().map { Int32($0) } + [-100]))
        } else if let prompt = obj["prompt"] as? String, let completion = obj["completion"] as? String {
            let p = tokenizer.encode(prompt, addSpecialTokens: true)
            let full = tokenizer.encode(prompt + completion, addSpecialTokens: true)
            // Targets are the tokens after the prompt's length (BPE may merge across the seam; the
            // split point is the prompt's token count either way).
            var targets = [Int32](repeating: -100, count: full.count)
            for i in max(p.count - 1, 0)..<(full.count - 1) { targets[i] = Int32(full[i + 1]) }
            out.append(EvalExample(ids: full, targets: targets))
        } else {
            let location = DatasetLocation(file: path, line: n + 1)
            let ex = try encoder.encode(DatasetRecord(jsonLine: line, location: location), location: location)
            // mask[i]: token i is predicted from position i − 1 → target of position i − 1.
            var targets = [Int32](repeating: -100, count: ex.tokens.count)
            for i in 1..<max(ex.tokens.count, 1) where ex.targetMask[i] { targets[i - 1] = Int32(ex.tokens[i]) }
            out.append(EvalExample(ids: ex.tokens, targets: targets))
        }
    }
    return out
}

import Tokenizers
