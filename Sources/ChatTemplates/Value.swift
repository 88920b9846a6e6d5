// Value: what the interpreter computes with. TemplateValue plus Jinja's runtime kinds:
// undefined (a missing variable, key or attribute), namespace objects and built-in functions.
// Truthiness, equality and str() follow Python, since transformers renders with jinja2.

/// A mutable attribute bag made by `namespace()`; shared by reference, as in Jinja.
final class Namespace {
    var attributes = ValueDict()
}

/// Globals transformers installs (raise_exception, strftime_now, namespace, dict) plus range.
enum Builtin: String {
    case raiseException = "raise_exception", strftimeNow = "strftime_now", namespace, dict, range
}

/// An insertion-ordered dictionary of runtime values.
struct ValueDict {
    private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]

    subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            guard let newValue else { return }
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }

    var count: Int { keys.count }
    var entries: [(key: String, value: Value)] { keys.map { ($0, storage[$0]!) } }
    var values: [Value] { keys.map { storage[$0]! } }
}

indirect enum Value {
    /// A missing variable, key or attribute; `hint` names it for error messages.
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case dict(ValueDict)
    case namespace(Namespace)
    case function(Builtin)

    init(_ value: TemplateValue) {
        switch value {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(Value.init))
        case .dict(let dict):
            var out = ValueDict()
            for (key, item) in dict.entries { out[key] = Value(item) }
            self = .dict(out)
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness; undefined is false.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .function: return true
        }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// A number as Double (bool counts as int, as in Python), else nil.
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// An integer (bool counts as int), else nil.
    var integer: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// Python `==`: numbers compare by value across int/float/bool, dicts ignore key order.
    static func pyEquals(_ a: Value, _ b: Value) -> Bool {
        if let x = a.number, let y = b.number { return x == y }
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { pyEquals($0, $1) }
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && x.entries.allSatisfy { entry in
                y[entry.key].map { pyEquals(entry.value, $0) } ?? false
            }
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.function(let x), .function(let y)): return x == y
        default: return false
        }
    }

    /// Python `str()`, as `{{ value }}` prints it; undefined prints as the empty string.
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python `repr()`: how values print inside lists and dicts.
    var pythonRepr: String { repr(depth: 0) }

    /// `repr` with a depth bound: a namespace can hold itself (`set ns.me = ns`).
    private func repr(depth: Int) -> String {
        guard depth < 100 else { return "..." }
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Value.pythonFloat(d)
        case .string(let s): return Value.pythonQuoted(s)
        case .array(let items): return "[" + items.map { $0.repr(depth: depth + 1) }.joined(separator: ", ") + "]"
        case .dict(let dict):
            return "{" + dict.entries.map { Value.pythonQuoted($0.key) + ": " + $0.value.repr(depth: depth + 1) }
                .joined(separator: ", ") + "}"
        case .namespace(let ns):
            return "<Namespace {" + ns.attributes.entries.map { Value.pythonQuoted($0.key) + ": " + $0.value.repr(depth: depth + 1) }
                .joined(separator: ", ") + "}>"
        case .function(let f): return "<function \(f.rawValue)>"
        }
    }

    /// Python's float repr: shortest round-trip digits, "1.0" for integral values,
    /// exponent form below 1e-4 and from 1e16.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == d.rounded(), abs(d) < 1e16 {
            return String(Int64(d)) + ".0"
        }
        var text = "\(d)"  // Swift also prints the shortest round-trip digits
        if let e = text.firstIndex(of: "e") {
            let mantissa = text[..<e]
            var exponent = String(text[text.index(after: e)...])
            let sign = exponent.hasPrefix("-") ? "-" : "+"
            exponent = String(exponent.drop { $0 == "-" || $0 == "+" })
            if exponent.count < 2 { exponent = "0" + exponent }
            text = mantissa + "e" + sign + exponent
        }
        return text
    }

    /// Python's repr of a str: single quotes unless the text has one and no double quote.
    static func pythonQuoted(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(format2: scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 value: UInt32) {
        let hex = String(value, radix: 16)
        self = hex.count < 2 ? "0" + hex : hex
    }
}
