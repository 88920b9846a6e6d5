// DatasetEncoder: turns a DatasetRecord into token ids and a loss mask. Prompts are never
// targets unless `trainOnInputs`; in a conversation every assistant turn is a target, up to and
// including the token that ends the turn (`<|im_end|>`, `<|eot_id|>`, EOS), found by rendering
// conversation prefixes with the chat template and comparing their tokens (or, for templates
// whose prefixes do not render stably, by diffing against a render with the reply emptied).
import ChatTemplates
import Tokenizers

/// One tokenized training example and which of its tokens count in the loss.
public struct TokenizedExample: Sendable, Equatable, Codable {
    /// The token ids, BOS included when the tokenizer or template adds one.
    public var tokens: [Int]
    /// `targetMask[i]` is true when token i is a target, i.e. predicted from position i − 1
    /// (so `targetMask[0]` is always false).
    public var targetMask: [Bool]

    /// An example from `tokens` and a mask of the same length.
    public init(tokens: [Int], targetMask: [Bool]) {
        precondition(tokens.count == targetMask.count, "TokenizedExample: \(tokens.count) tokens but \(targetMask.count) mask entries")
        self.tokens = tokens
        self.targetMask = targetMask
    }

    /// The number of tokens.
    public var count: Int { tokens.count }
    /// The number of target tokens.
    public var targetCount: Int { targetMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Tokenizes records with a model's tokenizer and chat template.
public struct DatasetEncoder: Sendable {
    /// The model's tokenizer.
    public let tokenizer: any Tokenizer
    /// The model's chat template; conversations fall back to ChatML when nil, alpaca records
    /// to the classic Alpaca prompt.
    public let chatTemplate: ChatTemplate?
    /// The spelling of BOS / EOS handed to the template.
    public let bosToken: String
    /// The spelling of EOS handed to the template.
    public let eosToken: String
    /// When true, prompt and user tokens are targets too (every token after the first).
    public var trainOnInputs: Bool
    /// Ids that end an assistant turn; template text after them (e.g. "\n") is never a target.
    public let stopTokenIDs: Set<Int>

    /// An encoder for the given tokenizer and chat template.
    public init(tokenizer: any Tokenizer, chatTemplate: ChatTemplate?, bosToken: String, eosToken: String,
                trainOnInputs: Bool = false) {
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.trainOnInputs = trainOnInputs
        var stops = Set<Int>()
        if let e = tokenizer.eosTokenID { stops.insert(e) }
        for t in [eosToken, "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|endoftext|>"] where !t.isEmpty {
            if let id = tokenizer.tokenID(t) { stops.insert(id) }
        }
        self.stopTokenIDs = stops
    }

    /// ChatML, for conversations when the model has no template (as `LoadedModel.renderChat`).
    static let chatML: ChatTemplate = {
        let source = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
            + "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        do { return try ChatTemplate(source) } catch { preconditionFailure("built-in ChatML template: \(error)") }
    }()

    /// The classic Alpaca prompt (Taori et al. 2023), used when the model has no chat template.
    public static func alpacaPrompt(instruction: String, input: String) -> String {
        if input.isEmpty {
            return "Below is an instruction that describes a task. Write a response that appropriately completes "
                + "the request.\n\n### Instruction:\n\(instruction)\n\n### Response:\n"
        }
        return "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n\(instruction)"
            + "\n\n### Input:\n\(input)\n\n### Response:\n"
    }

    /// Tokens and loss mask for `record`; `location` names the file and line in errors.
    public func encode(_ record: DatasetRecord, location: DatasetLocation) throws -> TokenizedExample {
        switch record {
        case .text(let text):
            var tokens = tokenizer.encode(text, addSpecialTokens: true)
            appendEOS(to: &tokens)
            return TokenizedExample(tokens: tokens, targetMask: tokens.indices.map { $0 > 0 })
        case .promptCompletion(let prompt, let completion):
            return encodeCompletion(prompt: prompt, completion: completion)
        case .messages(let messages):
            return try encodeChat(messages, firstTrainable: 0, location: location)
        case .conversationalCompletion(let prompt, let completion):
            return try encodeChat(prompt + completion, firstTrainable: prompt.count, location: location)
        case .alpaca(let instruction, let input, let output):
            guard chatTemplate != nil else {
                return encodeCompletion(prompt: Self.alpacaPrompt(instruction: instruction, input: input), completion: output)
            }
            let user = input.isEmpty ? instruction : instruction + "\n\n" + input
            let messages = [ChatMessage(role: "user", content: user), ChatMessage(role: "assistant", content: output)]
            return try encodeChat(messages, firstTrainable: 0, location: location)
        }
    }

    /// Appends EOS unless the sequence already ends with it (or the tokenizer has none).
    func appendEOS(to tokens: inout [Int]) {
        if let eos = tokenizer.eosTokenID, tokens.last != eos { tokens.append(eos) }
    }

    /// prompt + completion + EOS, targets from the first completion token. The pair is
    /// tokenized as one text when the prompt's tokens are a prefix of it (so merges across
    /// the boundary match what the model sees at inference), else the parts are concatenated.
    func encodeCompletion(prompt: String, completion: String) -> TokenizedExample {
        let promptTokens = tokenizer.encode(prompt, addSpecialTokens: true)
        var tokens = tokenizer.encode(prompt + completion, addSpecialTokens: true)
        if !tokens.starts(with: promptTokens) {
            tokens = promptTokens + tokenizer.encode(completion, addSpecialTokens: false)
        }
        appendEOS(to: &tokens)
        let boundary = trainOnInputs ? 1 : max(promptTokens.count, 1)
        return TokenizedExample(tokens: tokens, targetMask: tokens.indices.map { $0 >= boundary })
    }

    /// Renders with the template (ChatML when none), turning template failures into DatasetError.
    func render(_ messages: ArraySlice<ChatMessage>, addGenerationPrompt: Bool, location: DatasetLocation) throws -> [Int] {
        let text: String
        do {
            text = try (chatTemplate ?? Self.chatML).render(messages: Array(messages), addGenerationPrompt: addGenerationPrompt,
                                                            bosToken: bosToken, eosToken: eosToken)
        } catch {
            throw DatasetError.template(location, detail: "\(error)")
        }
        // apply_chat_template(tokenize=True) does not add special tokens: the template writes them.
        return tokenizer.encode(text, addSpecialTokens: false)
    }

    /// A conversation with targets on each assistant turn at index ≥ `firstTrainable`.
    func encodeChat(_ messages: [ChatMessage], firstTrainable: Int, location: DatasetLocation) throws -> TokenizedExample {
        var tokens = try render(messages[...], addGenerationPrompt: false, location: location)
        var mask = tokens.indices.map { trainOnInputs && $0 > 0 }
        if !trainOnInputs {
            for i in messages.indices where i >= firstTrainable && messages[i].role == "assistant" {
                let span: Range<Int>
                do {
                    span = try prefixSpan(of: i, in: messages, tokens: tokens, location: location)
                } catch let error as DatasetError {
                    guard case .unstablePrefix = error,
                          let found = try differenceSpan(of: i, in: messages, tokens: tokens, location: location)
                    else { throw error }
                    span = found
                }
                for j in max(span.lowerBound, 1)..<max(span.upperBound, 1) { mask[j] = true }
            }
        }
        // A template that does not end the final assistant turn gets EOS, so the model learns to stop.
        if messages.last?.role == "assistant", messages.count > firstTrainable,
           !tokens.suffix(3).contains(where: stopTokenIDs.contains), let eos = tokenizer.eosTokenID {
            tokens.append(eos)
            mask.append(true)
        }
        return TokenizedExample(tokens: tokens, targetMask: mask)
    }

    /// Turn i spans from the end of `render(messages[..<i], add_generation_prompt=true)` to the
    /// end of `render(messages[...i])`, cut after the last stop token inside it. Both renders
    /// must tokenize to prefixes of the whole conversation, else `.unstablePrefix`.
    func prefixSpan(of i: Int, in messages: [ChatMessage], tokens: [Int], location: DatasetLocation) throws -> Range<Int> {
        let before = try render(messages[..<i], addGenerationPrompt: true, location: location)
        let through = try render(messages[...i], addGenerationPrompt: false, location: location)
        guard tokens.starts(with: before) else {
            throw DatasetError.unstablePrefix(location, messageIndex: i, detail:
                "the conversation up to it (with the generation prompt) does not tokenize to a prefix of the whole")
        }
        guard tokens.starts(with: through), through.count >= before.count else {
            throw DatasetError.unstablePrefix(location, messageIndex: i, detail:
                "the conversation through it does not tokenize to a prefix of the whole")
        }
        var end = through.count
        if let stop = (before.count..<end).last(where: { stopTokenIDs.contains(tokens[$0]) }) { end = stop + 1 }
        return before.count..<end
    }

    /// For templates whose prefixes are unstable (e.g. Mistral v0.3 moves the system text into
    /// the last user turn): render the conversation again with turn i's content emptied; the
    /// tokens that differ are the content, extended through a stop token right after it.
    /// Nil when nothing differs (an empty reply, or a template that ignores content).
    func differenceSpan(of i: Int, in messages: [ChatMessage], tokens: [Int], location: DatasetLocation) throws -> Range<Int>? {
        var blanked = messages
        blanked[i].content = .string("")
        let other = try render(blanked[...], addGenerationPrompt: false, location: location)
        let shorter = min(tokens.count, other.count)
        var prefix = 0
        while prefix < shorter, tokens[prefix] == other[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < shorter - prefix, tokens[tokens.count - 1 - suffix] == other[other.count - 1 - suffix] { suffix += 1 }
        var end = tokens.count - suffix
        guard end > prefix else { return nil }
        // The end-of-turn token follows the content within a few tokens (" </s>", "<|im_end|>").
        if let stop = (end..<min(end + 4, tokens.count)).first(where: { stopTokenIDs.contains(tokens[$0]) }) { end = stop + 1 }
        return prefix..<end
    }
}
