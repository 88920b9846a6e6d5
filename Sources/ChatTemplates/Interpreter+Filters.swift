// Interpreter+Filters: the Jinja filters chat templates use, with jinja2's semantics, and
// transformers' `tojson` (json.dumps with ensure_ascii=False, indent, separators, sort_keys).
// An unknown filter is an error naming it.

import Foundation

extension Interpreter {
    func applyFilter(_ name: String, _ value: Value, _ args: CallArgs, location: SourceLocation) throws -> Value {
        // jinja2's text filters take soft_str(value), so undefined becomes ""; these three refuse it.
        if value.isUndefined, name == "string" || name == "int" || name == "float" {
            throw undefinedError(value, "applying filter '\(name)'", location: location)
        }
        func sequence(_ v: Value) throws -> [Value] {
            if case .undefined = v { return [] }
            let items = try iterate(v, location: location)
            try budget.charge(items.count, at: location)
            return items
        }
        switch name {
        case "trim":
            let chars = args.arg(0, "chars").flatMap { $0.isNone ? nil : $0.pythonString }
            return .string(value.pythonString.pythonStrip(chars, leading: true, trailing: true))
        case "length", "count":
            switch value {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw ChatTemplateError.evaluation("object of type '\(value.typeName)' has no len()", at: location)
            }
        case "upper": return .string(value.pythonString.uppercased())
        case "lower": return .string(value.pythonString.lowercased())
        case "capitalize": return .string(value.pythonString.pythonCapitalized)
        case "title": return .string(value.pythonString.pythonTitle)
        case "string": return .string(value.pythonString)
        case "safe": return value
        case "tojson": return .string(try toJSON(value, args, location: location))
        case "join":
            let separator = args.arg(0, "d")?.pythonString ?? ""
            var items = try sequence(value)
            if let attr = args.arg(1, "attribute")?.pythonString {
                items = try items.map { try attribute(of: $0, attr, location: location) }
            }
            return .string(try budget.joined(items, separator: separator, at: location))
        case "default", "d":
            let fallback = args.arg(0, "default_value") ?? .string("")
            let boolean = args.arg(1, "boolean")?.isTruthy ?? false
            return value.isUndefined || (boolean && !value.isTruthy) ? fallback : value
        case "first", "last":
            let items = try sequence(value)
            let picked = name == "first" ? items.first : items.last
            return picked ?? .undefined(hint: "\(name) of an empty sequence")
        case "items":
            switch value {
            case .undefined: return .array([])
            case .dict(let dict): return .array(dict.entries.map { .array([.string($0.key), $0.value]) })
            default: throw ChatTemplateError.evaluation("filter 'items' expects a mapping, got '\(value.typeName)'", at: location)
            }
        case "list": return .array(try sequence(value))
        case "reverse":
            if case .string(let s) = value { return .string(String(s.unicodeScalars.reversed().map(Character.init))) }
            return .array(try sequence(value).reversed())
        case "replace":
            let s = value.pythonString
            guard let old = args.arg(0, "old")?.pythonString, let new = args.arg(1, "new")?.pythonString else {
                throw ChatTemplateError.evaluation("filter 'replace' expects (old, new)", at: location)
            }
            let limit = args.arg(2, "count")?.integer
            try budget.checkLength(Self.replacedLength(s, old, new), at: location)
            return .string(s.pythonReplace(old, new, count: limit))
        case "int":
            let fallback = args.arg(0, "default") ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let d): return Int(exactly: d.rounded(.towardZero)).map(Value.int) ?? fallback
            case .string(let s):
                let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), let i = Int(exactly: d.rounded(.towardZero)) { return .int(i) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = args.arg(0, "default") ?? .double(0)
            if let d = value.number { return .double(d) }
            if case .string(let s) = value, let d = Double(s.trimmingCharacters(in: .whitespacesAndNewlines)) { return .double(d) }
            return fallback
        case "abs":
            if let i = value.integer { return i == Int.min ? .double(-Double(i)) : .int(abs(i)) }
            if case .double(let d) = value { return .double(abs(d)) }
            throw operandError("abs", value, nil, location: location)
        case "unique":
            var seen: [Value] = []
            for item in try sequence(value) {
                try budget.charge(seen.count, at: location)  // each item is compared with those kept
                if !seen.contains(where: { Value.pyEquals($0, item) }) { seen.append(item) }
            }
            return .array(seen)
        case "sum":
            return try sequence(value).reduce(Value.int(0)) { try binary(.add, $0, $1, location: location) }
        case "min", "max":
            let items = try sequence(value)
            guard var best = items.first else { return .undefined(hint: "\(name) of an empty sequence") }
            for item in items.dropFirst() {
                let order = try ordering(item, best, op: .lt, location: location)
                if (name == "min" && order < 0) || (name == "max" && order > 0) { best = item }
            }
            return best
        case "select", "reject", "selectattr", "rejectattr":
            return .array(try selectItems(name, try sequence(value), args, location: location))
        case "map":
            let items = try sequence(value)
            if let attr = args.keywords["attribute"]?.pythonString {
                let fallback = args.keywords["default"]
                return .array(try items.map {
                    let v = try attribute(of: $0, attr, location: location)
                    return v.isUndefined ? (fallback ?? v) : v
                })
            }
            guard let filterName = args.positional.first?.pythonString else {
                throw ChatTemplateError.evaluation("filter 'map' expects a filter name or attribute=", at: location)
            }
            let rest = CallArgs(positional: Array(args.positional.dropFirst()), keywordOrder: args.keywordOrder, keywords: args.keywords)
            return .array(try items.map { try applyFilter(filterName, $0, rest, location: location) })
        default:
            throw ChatTemplateError.unsupported("unknown filter '\(name)'", at: location)
        }
    }

    /// select/reject(test, args…) and selectattr/rejectattr(attribute, test, args…).
    private func selectItems(_ name: String, _ items: [Value], _ args: CallArgs, location: SourceLocation) throws -> [Value] {
        let byAttribute = name.hasSuffix("attr")
        let keep = name.hasPrefix("select")
        var rest = args.positional
        var attr: String?
        if byAttribute {
            guard !rest.isEmpty else {
                throw ChatTemplateError.evaluation("filter '\(name)' expects an attribute name", at: location)
            }
            attr = rest.removeFirst().pythonString
        }
        let testName = rest.isEmpty ? nil : rest.removeFirst().pythonString
        let testArgs = CallArgs(positional: rest)
        return try items.filter { item in
            let subject = try attr.map { try attribute(of: item, $0, location: location) } ?? item
            let passed = try testName.map { try applyTest($0, subject, testArgs, location: location) } ?? subject.isTruthy
            return passed == keep
        }
    }

    private func toJSON(_ value: Value, _ args: CallArgs, location: SourceLocation) throws -> String {
        var style = JSONStyle()
        if let indent = args.arg(1, "indent") ?? args.keywords["indent"], !indent.isNone {
            if let n = indent.integer { style.indent = String(repeating: " ", count: n) } else { style.indent = indent.pythonString }
            style.itemSeparator = ","
        }
        style.ensureASCII = args.arg(0, "ensure_ascii")?.isTruthy ?? false
        if case .array(let seps)? = args.arg(2, "separators"), seps.count == 2 {
            style.itemSeparator = seps[0].pythonString
            style.keySeparator = seps[1].pythonString
        }
        style.sortKeys = args.arg(3, "sort_keys")?.isTruthy ?? false
        var out = ""
        do {
            try JSONWriter.write(value, style: style, into: &out)
        } catch {
            if value.isUndefined { throw undefinedError(value, "applying filter 'tojson'", location: location) }
            throw ChatTemplateError.evaluation("Object of type \(error.typeName) is not JSON serializable", at: location)
        }
        return out
    }
}
