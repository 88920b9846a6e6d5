// `lorikeet eval`: mean loss (nats per target token) and perplexity over a JSONL file.
import ArgumentParser
import Foundation
import Llama
import TensorCore

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mean loss and perplexity of a model over a JSONL file.",
        discussion: """
        Each line is {"text": …} (every token after the first is a target) or
        {"prompt": …, "completion": …} (only the completion's tokens are targets).
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "A .jsonl file.") var data: String
    @Option(name: .customLong("max-seq-length"), help: "Truncate longer examples to this many tokens (default: the model's context).")
    var maxSeqLength: Int?
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON: loss, perplexity, tokens, examples.") var json = false

    func run() throws {
        compute.apply()
        let loaded = try ModelLoader.load(model.model)
        let limit = min(maxSeqLength ?? loaded.model.configuration.maxPositions, loaded.model.configuration.maxPositions)
        let examples = try readEvalExamples(path: data, tokenizer: loaded.tokenizer)
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
        guard totalTokens > 0 else { throw ValidationError("\(data): no target tokens to evaluate") }
        let mean = totalLoss / Double(totalTokens)
        if json {
            let obj: [String: Any] = ["loss": mean, "perplexity": exp(mean), "tokens": totalTokens,
                                      "examples": examples.count, "truncated": truncated]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "loss %.4f nats/token, perplexity %.3f over %d tokens in %d examples", mean, exp(mean), totalTokens, examples.count))
            if truncated > 0 { print("\(truncated) examples were truncated to \(limit) tokens") }
        }
    }
}

struct EvalExample {
    var ids: [Int]
    /// targets[i] is the token expected after position i, −100 where not counted.
    var targets: [Int32]
}

/// Reads {"text"} / {"prompt","completion"} lines; a bad line is an error naming file:line.
func readEvalExamples(path: String, tokenizer: any Tokenizer) throws -> [EvalExample] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): cannot be read") }
    var out: [EvalExample] = []
    for (n, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = raw.trimmingCharacters(in: .whitespaces)
        if line.isEmpty { continue }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ValidationError("\(path):\(n + 1): not a JSON object")
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
            throw ValidationError("\(path):\(n + 1): expected {\"text\": …} or {\"prompt\": …, \"completion\": …}")
        }
    }
    return out
}

import Tokenizers
