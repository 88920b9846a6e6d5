// TemplateValue: the JSON-like values a caller hands to a chat template (messages, tools,
// extra variables), plus TemplateDictionary, an insertion-ordered dictionary. Order matters:
// `tojson` and `dict.items()` must list keys in the order Python would.

/// A value passed into a chat template: what Python's `json` module can hold.
public enum TemplateValue: Sendable, Equatable {
    /// Python's `None` (JSON null).
    case none
    /// A boolean.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// A list.
    case array([TemplateValue])
    /// A dictionary with string keys, in insertion order.
    case dict(TemplateDictionary)
}

/// A string-keyed dictionary that keeps insertion order, like a Python `dict`.
public struct TemplateDictionary: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The keys, in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    /// An empty dictionary.
    public init() {}

    /// A dictionary holding `elements` in the order given (a later duplicate key replaces the value).
    public init(_ elements: [(String, TemplateValue)]) {
        for (key, value) in elements { self[key] = value }
    }

    /// A dictionary from a literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// The value for `key`; setting `nil` removes the entry, setting a new key appends it.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The entries in insertion order.
    public var entries: [(key: String, value: TemplateValue)] {
        keys.map { ($0, storage[$0]!) }
    }

    /// Python semantics: equal when they hold the same keys and values, in any order.
    public static func == (lhs: TemplateDictionary, rhs: TemplateDictionary) -> Bool {
        lhs.storage == rhs.storage
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    /// A string value from a literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer value from a literal.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A floating-point value from a literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A boolean value from a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A list from a literal.
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    /// A dictionary from a literal, keeping the literal's key order.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .dict(TemplateDictionary(elements))
    }
    /// `none` from `nil`.
    public init(nilLiteral: ()) { self = .none }
}

/// One message of a conversation, as `apply_chat_template` receives it.
public struct ChatMessage: Sendable, Equatable {
    /// The speaker: "system", "user", "assistant", "tool", …
    public var role: String
    /// The content; `nil` leaves the `content` key out (templates then see it as undefined).
    public var content: TemplateValue?
    /// Further keys templates read, e.g. `tool_calls`, `tool_call_id`, `name`.
    public var fields: TemplateDictionary

    /// A plain text message.
    public init(role: String, content: String) {
        self.init(role: role, content: .string(content))
    }

    /// A message with any content and extra keys (`tool_calls`, `tool_call_id`, …).
    public init(role: String, content: TemplateValue?, fields: TemplateDictionary = [:]) {
        self.role = role
        self.content = content
        self.fields = fields
    }

    /// The message as the dictionary a template sees: `role`, `content`, then `fields`.
    public var templateValue: TemplateValue {
        var dict: TemplateDictionary = ["role": .string(role)]
        if let content { dict["content"] = content }
        for (key, value) in fields.entries where key != "role" && key != "content" {
            dict[key] = value
        }
        return .dict(dict)
    }
}
