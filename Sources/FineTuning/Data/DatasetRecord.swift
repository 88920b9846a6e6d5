// DatasetRecord: one JSONL line of a training file, its format detected from its keys as
// mlx-lm and TRL do: {"messages"}, {"prompt","completion"}, alpaca {"instruction","input",
// "output"} or {"text"}. Keys beyond those are ignored. Parsing checks kinds and roles only;
// turning a record into tokens is DatasetEncoder's job.
import ChatTemplates

/// One training example as written in the data file, before tokenization.
public enum DatasetRecord: Sendable, Equatable {
    /// Plain text: every token after the first is a target.
    case text(String)
    /// A prompt and its completion (plain text, concatenated); targets are the completion.
    case promptCompletion(prompt: String, completion: String)
    /// A conversational prompt/completion (TRL): both lists of messages; only the
    /// completion's assistant turns are targets.
    case conversationalCompletion(prompt: [ChatMessage], completion: [ChatMessage])
    /// A conversation rendered with the chat template; every assistant turn is a target.
    case messages([ChatMessage])
    /// An alpaca record; `input` is "" when absent.
    case alpaca(instruction: String, input: String, output: String)

    /// Roles a message may have (the union of what Llama-family templates understand).
    public static let knownRoles: Set<String> = ["system", "developer", "user", "assistant", "tool", "ipython", "function"]

    /// Parses one line of JSONL; `location` names the file and line in errors.
    public init(jsonLine: String, location: DatasetLocation) throws {
        let value: TemplateValue
        do {
            value = try TemplateValue(json: jsonLine)
        } catch {
            throw DatasetError.invalidJSON(location, detail: "\(error)")
        }
        guard case .dict(let object) = value else {
            throw DatasetError.invalidJSON(location, detail: "the line is JSON but not an object")
        }
        try self.init(object: object, location: location)
    }

    /// Reads a record from an already parsed JSON object.
    public init(object: TemplateDictionary, location: DatasetLocation) throws {
        func string(_ key: String, format: String) throws -> String {
            guard let value = object[key] else { throw DatasetError.missingKey(location, key: key, format: format) }
            guard case .string(let s) = value else {
                throw DatasetError.invalidValue(location, key: key, expected: "a string")
            }
            return s
        }
        if let messages = object["messages"] {
            let parsed = try Self.messages(messages, key: "messages", location: location)
            guard !parsed.isEmpty else {
                throw DatasetError.invalidValue(location, key: "messages", expected: "a non-empty list of messages")
            }
            self = .messages(parsed)
        } else if object["prompt"] != nil || object["completion"] != nil {
            guard let prompt = object["prompt"] else {
                throw DatasetError.missingKey(location, key: "prompt", format: "prompt/completion")
            }
            guard let completion = object["completion"] else {
                throw DatasetError.missingKey(location, key: "completion", format: "prompt/completion")
            }
            switch (prompt, completion) {
            case (.string(let p), .string(let c)):
                self = .promptCompletion(prompt: p, completion: c)
            case (.array, .array):
                let p = try Self.messages(prompt, key: "prompt", location: location)
                let c = try Self.messages(completion, key: "completion", location: location)
                guard !c.isEmpty else {
                    throw DatasetError.invalidValue(location, key: "completion", expected: "a non-empty list of messages")
                }
                self = .conversationalCompletion(prompt: p, completion: c)
            default:
                throw DatasetError.invalidValue(location, key: "prompt", expected:
                    "a string with a string \"completion\", or a list of messages with a list \"completion\"")
            }
        } else if object["instruction"] != nil || object["output"] != nil {
            let instruction = try string("instruction", format: "alpaca")
            let output = try string("output", format: "alpaca")
            var input = ""
            switch object["input"] {
            case nil, .some(TemplateValue.none): break
            case .string(let s)?: input = s
            default: throw DatasetError.invalidValue(location, key: "input", expected: "a string or null")
            }
            self = .alpaca(instruction: instruction, input: input, output: output)
        } else if object["text"] != nil {
            self = .text(try string("text", format: "text"))
        } else {
            throw DatasetError.unknownFormat(location, keys: object.keys)
        }
    }

    /// Checks a list of `{"role","content"}` objects. Content may be a string, a list of
    /// parts (passed to the template as is), or null/absent for an assistant with `tool_calls`.
    static func messages(_ value: TemplateValue, key: String, location: DatasetLocation) throws -> [ChatMessage] {
        guard case .array(let items) = value else {
            throw DatasetError.invalidValue(location, key: key, expected: "a list of {\"role\", \"content\"} objects")
        }
        var out: [ChatMessage] = []
        for (i, item) in items.enumerated() {
            let name = "\(key)[\(i)]"
            guard case .dict(let dict) = item else {
                throw DatasetError.invalidValue(location, key: name, expected: "an object with \"role\" and \"content\"")
            }
            guard let roleValue = dict["role"] else {
                throw DatasetError.missingKey(location, key: "role", format: name)
            }
            guard case .string(let role) = roleValue else {
                throw DatasetError.invalidValue(location, key: name + ".role", expected: "a string")
            }
            guard knownRoles.contains(role) else { throw DatasetError.unknownRole(location, index: i, role: role) }
            var fields = TemplateDictionary()
            for (k, v) in dict.entries where k != "role" && k != "content" { fields[k] = v }
            switch dict["content"] {
            case .string?, .array?:
                break
            case nil, .some(TemplateValue.none):
                guard role == "assistant", fields["tool_calls"] != nil else {
                    throw DatasetError.missingKey(location, key: "content", format: name)
                }
            default:
                throw DatasetError.invalidValue(location, key: name + ".content", expected: "a string or a list of parts")
            }
            let content: TemplateValue? = dict["content"].flatMap { $0 == TemplateValue.none ? nil : $0 }
            out.append(ChatMessage(role: role, content: content, fields: fields))
        }
        return out
    }
}
