// Interpreter+Calls: Jinja tests (`is defined`, `is string`, …), the methods templates call
// on str/dict/list (strip, split, startswith, items, get, …) and the globals transformers
// provides: raise_exception, strftime_now, namespace, dict; plus Jinja's range.

import Foundation

extension Interpreter {
    func applyTest(_ name: String, _ value: Value, _ args: CallArgs, location: SourceLocation) throws -> Bool {
        let other = args.arg(0, "value") ?? .undefined(hint: "test '\(name)' expects an argument")
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number": return value.number != nil
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "iterable", "sequence":
            switch value {
            case .string, .array, .dict, .undefined: return true
            default: return false
            }
        case "callable": if case .function = value { return true } else { return false }
        case "odd", "even", "divisibleby":
            guard let i = value.integer else { throw operandError("%", value, nil, location: location) }
            if name == "divisibleby" {
                guard let d = other.integer, d != 0 else {
                    throw ChatTemplateError.evaluation("test 'divisibleby' expects a non-zero integer", at: location)
                }
                return i % d == 0
            }
            return (i % 2 != 0) == (name == "odd")
        case "eq", "equalto", "==": return Value.pyEquals(value, other)
        case "ne", "!=": return !Value.pyEquals(value, other)
        case "lt", "lessthan", "<": return try compare(.lt, value, other, location: location)
        case "le", "<=": return try compare(.le, value, other, location: location)
        case "gt", "greaterthan", ">": return try compare(.gt, value, other, location: location)
        case "ge", ">=": return try compare(.ge, value, other, location: location)
        case "in": return try contains(other, value, location: location)
        case "sameas":
            if case .namespace(let a) = value, case .namespace(let b) = other { return a === b }
            return Value.pyEquals(value, other) && value.typeName == other.typeName
        case "lower", "upper":
            guard case .string(let s) = value else { return false }
            return name == "lower" ? s == s.lowercased() : s == s.uppercased()
        default:
            throw ChatTemplateError.unsupported("unknown test '\(name)'", at: location)
        }
    }

    /// A method call `receiver.name(args)`; nil when `receiver` has no such method.
    func callMethod(_ receiver: Value, _ name: String, _ args: CallArgs, location: SourceLocation) throws -> Value? {
        func string(_ i: Int, _ key: String) -> String? {
            guard let v = args.arg(i, key), !v.isNone else { return nil }
            return v.pythonString
        }
        switch receiver {
        case .string(let s):
            switch name {
            case "strip": return .string(s.pythonStrip(string(0, "chars"), leading: true, trailing: true))
            case "lstrip": return .string(s.pythonStrip(string(0, "chars"), leading: true, trailing: false))
            case "rstrip": return .string(s.pythonStrip(string(0, "chars"), leading: false, trailing: true))
            case "upper": return .string(s.uppercased())
            case "lower": return .string(s.lowercased())
            case "title": return .string(s.pythonTitle)
            case "capitalize": return .string(s.pythonCapitalized)
            case "startswith", "endswith":
                let candidates: [Value]
                if case .array(let items)? = args.arg(0, "prefix") { candidates = items } else { candidates = args.positional.prefix(1).map { $0 } }
                return .bool(candidates.contains { c in
                    guard case .string(let p) = c else { return false }
                    return name == "startswith" ? s.unicodeScalars.starts(with: p.unicodeScalars)
                        : s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed())
                })
            case "split", "rsplit":
                let limit = args.arg(1, "maxsplit")?.integer ?? -1
                return .array(s.pythonSplit(string(0, "sep"), maxSplit: limit, fromRight: name == "rsplit").map(Value.string))
            case "splitlines": return .array(s.split(whereSeparator: \.isNewline).map { .string(String($0)) })
            case "replace":
                guard let old = string(0, "old"), let new = string(1, "new") else { return nil }
                try budget.checkLength(Self.replacedLength(s, old, new), at: location)
                return .string(s.pythonReplace(old, new, count: args.arg(2, "count")?.integer))
            case "find":
                guard let needle = string(0, "sub") else { return nil }
                guard let range = s.range(of: needle) else { return .int(-1) }
                return .int(s.unicodeScalars.distance(from: s.startIndex, to: range.lowerBound))
            case "count":
                guard let needle = string(0, "x"), !needle.isEmpty else { return nil }
                return .int(s.components(separatedBy: needle).count - 1)
            case "join":
                let items = try iterate(args.arg(0, "iterable") ?? .array([]), location: location)
                return .string(try budget.joined(items, separator: s, at: location))
            case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
            case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.isPythonSpace))
            default: return nil
            }
        case .dict(let dict):
            switch name {
            case "items": return .array(dict.entries.map { .array([.string($0.key), $0.value]) })
            case "keys": return .array(dict.keys.map(Value.string))
            case "values": return .array(dict.values)
            case "get":
                guard case .string(let key)? = args.arg(0, "key") else { return args.arg(1, "default") ?? Value.none }
                return dict[key] ?? args.arg(1, "default") ?? Value.none
            default: return nil
            }
        case .array:
            if ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"].contains(name) {
                throw ChatTemplateError.unsupported(
                    "list.\(name)() modifies a list, which transformers' sandboxed environment forbids", at: location)
            }
            return nil
        default:
            return nil
        }
    }

    /// Calls a global function value.
    func call(_ callee: Value, _ args: CallArgs, location: SourceLocation) throws -> Value {
        guard case .function(let builtin) = callee else {
            if callee.isUndefined { throw undefinedError(callee, "calling it", location: location) }
            throw ChatTemplateError.evaluation("'\(callee.typeName)' object is not callable", at: location)
        }
        switch builtin {
        case .raiseException:
            throw ChatTemplateError.raised(args.arg(0, "message")?.pythonString ?? "", at: location)
        case .strftimeNow:
            guard let format = args.arg(0, "format")?.pythonString else {
                throw ChatTemplateError.evaluation("strftime_now() expects a format string", at: location)
            }
            return .string(Strftime.format(format, date: now()))
        case .namespace, .dict:
            var attributes = ValueDict()
            if case .dict(let initial)? = args.positional.first {
                for entry in initial.entries { attributes[entry.key] = entry.value }
            }
            for key in args.keywordOrder { attributes[key] = args.keywords[key] }
            if builtin == .dict { return .dict(attributes) }
            let ns = Namespace()
            ns.attributes = attributes
            return .namespace(ns)
        case .range:
            let ints = args.positional.compactMap(\.integer)
            guard ints.count == args.positional.count, (1...3).contains(ints.count) else {
                throw ChatTemplateError.evaluation("range() expects 1 to 3 integers", at: location)
            }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw ChatTemplateError.evaluation("range() step must not be zero", at: location) }
            let count = max(0, ((Double(stop) - Double(start)) / Double(step)).rounded(.up))
            guard count <= 100_000 else {
                throw ChatTemplateError.evaluation("range() of more than 100000 items exceeds the sandbox limit", at: location)
            }
            return .array(stride(from: start, to: stop, by: step).map(Value.int))
        }
    }
}
