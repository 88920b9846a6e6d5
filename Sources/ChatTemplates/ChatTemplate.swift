// ChatTemplate: a model's Hugging Face chat template (tokenizer_config.json `chat_template`,
// chat_template.jinja or GGUF `tokenizer.chat_template`), rendered as transformers'
// apply_chat_template does: jinja2 with trim_blocks, lstrip_blocks, raise_exception,
// strftime_now and a json.dumps `tojson`. A Jinja subset: no macros, includes or inheritance.
// Every failure is a ChatTemplateError naming the template line and column.

import Foundation

/// A parsed chat template, ready to render conversations.
public struct ChatTemplate: Sendable {
    /// How much one render may do: a template from a stranger cannot hang or exhaust memory.
    public struct Limits: Sendable, Equatable {
        /// Template nodes executed plus loop iterations (the chat templates of real models take
        /// thousands for a long conversation).
        public var steps: Int
        /// Bytes of output.
        public var outputBytes: Int
        /// The defaults: 5 million steps, 32 MiB of text.
        public static let standard = Limits(steps: 5_000_000, outputBytes: 32 << 20)
        /// Creates limits.
        public init(steps: Int, outputBytes: Int) {
            self.steps = steps
            self.outputBytes = outputBytes
        }
    }

    /// The template text as given.
    public let source: String
    private let nodes: [Node]
    /// The budget of every render.
    public var limits = Limits.standard

    /// Parses `source`; throws ChatTemplateError naming the line and column of any problem.
    public init(_ source: String) throws {
        self.source = source
        self.nodes = try Parser.parse(source)
    }

    /// Renders a conversation the way `tokenizer.apply_chat_template(messages, tokenize=False, …)` does.
    ///
    /// The template sees `messages`, `tools` (none when nil), `documents` (none),
    /// `add_generation_prompt`, `bos_token`, `eos_token` and every entry of `extra`
    /// (e.g. `date_string`, `builtin_tools`, `tools_in_user_message`), which may override them.
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
        tools: [TemplateValue]? = nil, extra: [String: TemplateValue] = [:]
    ) throws -> String {
        try render(messages: messages.map(\.templateValue), addGenerationPrompt: addGenerationPrompt,
                   bosToken: bosToken, eosToken: eosToken, tools: tools, extra: extra)
    }

    /// Renders messages given as plain values (dictionaries with `role`, `content`, `tool_calls`, …).
    ///
    /// A message's keys whose value is none are left out, as transformers'
    /// `_normalize_chat_messages` does: `content: null` reads as undefined, not none.
    public func render(
        messages: [TemplateValue], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
        tools: [TemplateValue]? = nil, extra: [String: TemplateValue] = [:]
    ) throws -> String {
        let messages = messages.map { message -> TemplateValue in
            guard case .dict(var dict) = message else { return message }
            for (key, value) in dict.entries where value == TemplateValue.none { dict[key] = nil }
            return .dict(dict)
        }
        var context: [String: TemplateValue] = [
            "messages": .array(messages),
            "tools": tools.map(TemplateValue.array) ?? TemplateValue.none,
            "documents": TemplateValue.none,
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        context.merge(extra) { _, new in new }
        return try render(context: context)
    }

    /// Renders with an arbitrary set of variables (nothing is added besides the globals
    /// `raise_exception`, `strftime_now`, `namespace`, `dict` and `range`).
    public func render(context: [String: TemplateValue]) throws -> String {
        try render(context: context, now: Date())
    }

    /// As `render(context:)`, with the time `strftime_now` reports.
    func render(context: [String: TemplateValue], now: Date) throws -> String {
        let values = context.mapValues(Value.init)
        return try Interpreter(now: { now }, budget: RenderBudget(limits)).render(nodes, context: values)
    }
}

extension ChatTemplate {
    /// The chat template and special tokens of a tokenizer_config.json.
    ///
    /// `chat_template` may be a string or a list of `{name, template}` (then `name` picks one,
    /// "default" by default); `bos_token`/`eos_token` may be strings or `{content: …}` objects.
    /// Returns nil for the template when the file has none.
    public static func fromTokenizerConfig(json: String, name: String = "default")
        throws -> (template: ChatTemplate?, bosToken: String?, eosToken: String?)
    {
        guard case .dict(let config) = try TemplateValue(json: json) else {
            throw TemplateJSONError(offset: 0, message: "tokenizer_config.json must hold a JSON object")
        }
        func token(_ key: String) -> String? {
            switch config[key] {
            case .string(let s)?: return s
            case .dict(let d)?: if case .string(let s)? = d["content"] { return s } else { return nil }
            default: return nil
            }
        }
        var source: String?
        switch config["chat_template"] {
        case .string(let s)?: source = s
        case .array(let entries)?:
            for case .dict(let entry) in entries where entry["name"] == .string(name) {
                if case .string(let s)? = entry["template"] { source = s }
            }
        default: break
        }
        return (try source.map(ChatTemplate.init), token("bos_token"), token("eos_token"))
    }
}
/// A position in the template source, 1-based.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    /// The line, starting at 1.
    public let line: Int
    /// The column in characters (Unicode scalars), starting at 1.
    public let column: Int

    /// A location at `line`, `column`.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// "line L, column C".
    public var description: String { "line \(line), column \(column)" }
}

/// Why a chat template could not be parsed or rendered.
public enum ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Malformed template text: `message` says what was expected and what was found.
    case syntax(String, at: SourceLocation)
    /// A tag or block left open, e.g. `{{` without `}}` or `{% for %}` without `{% endfor %}`.
    case unterminated(String, at: SourceLocation)
    /// A Jinja construct this engine does not implement (macros, includes, …), by name.
    case unsupported(String, at: SourceLocation)
    /// The template called `raise_exception(message)` (e.g. roles that do not alternate).
    case raised(String, at: SourceLocation)
    /// A value of the wrong kind for an operation, an undefined value used, an unknown filter.
    case evaluation(String, at: SourceLocation)

    /// Where in the template the error arose.
    public var location: SourceLocation {
        switch self {
        case .syntax(_, let at), .unterminated(_, let at), .unsupported(_, let at),
            .raised(_, let at), .evaluation(_, let at):
            return at
        }
    }

    /// The message without the location.
    public var message: String {
        switch self {
        case .syntax(let m, _), .unterminated(let m, _), .unsupported(let m, _),
            .raised(let m, _), .evaluation(let m, _):
            return m
        }
    }

    /// A one-line description naming the kind, the location and the message.
    public var description: String {
        let kind: String
        switch self {
        case .syntax: kind = "syntax error"
        case .unterminated: kind = "unterminated"
        case .unsupported: kind = "unsupported"
        case .raised: kind = "template raised"
        case .evaluation: kind = "render error"
        }
        return "chat template \(kind) at \(location): \(message)"
    }
}
