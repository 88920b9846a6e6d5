// Interpreter+Expressions: evaluates expressions with jinja2's semantics: `a.b` and `a['b']`
// fall back to each other and give undefined when missing; using an undefined value (its
// attributes, arithmetic) is an error; `and`/`or` return an operand, as in Python.

import Foundation

extension Interpreter {
    func evaluate(_ expr: Expr, _ scope: Scope) throws -> Value {
        switch expr {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let name, _):
            return scope.lookup(name) ?? .undefined(hint: "'\(name)' is undefined")
        case .list(let items), .tuple(let items):
            return .array(try items.map { try evaluate($0, scope) })
        case .dict(let pairs):
            var dict = ValueDict()
            for pair in pairs {
                dict[try evaluate(pair.key, scope).pythonString] = try evaluate(pair.value, scope)
            }
            return .dict(dict)
        case .attribute(let base, let name, let location):
            return try attribute(of: try evaluate(base, scope), name, location: location)
        case .subscript_(let base, let index, let location):
            return try item(of: try evaluate(base, scope), try evaluate(index, scope), location: location)
        case .slice(let base, let start, let stop, let step, let location):
            return try slice(try evaluate(base, scope), start: try start.map { try evaluate($0, scope) },
                             stop: try stop.map { try evaluate($0, scope) }, step: try step.map { try evaluate($0, scope) },
                             location: location)
        case .call(let callee, let arguments, let location):
            let args = try evaluate(arguments, scope)
            if case .attribute(let base, let name, _) = callee {
                let receiver = try evaluate(base, scope)
                if let result = try callMethod(receiver, name, args, location: location) { return result }
            }
            return try call(try evaluate(callee, scope), args, location: location)
        case .filter(let base, let name, let arguments, let location):
            return try applyFilter(name, try evaluate(base, scope), try evaluate(arguments, scope), location: location)
        case .test(let base, let name, let arguments, let negated, let location):
            let result = try applyTest(name, try evaluate(base, scope), try evaluate(arguments, scope), location: location)
            return .bool(result != negated)
        case .negate(let operand, let location):
            let value = try evaluate(operand, scope)
            if let i = value.integer { return i == Int.min ? .double(-Double(i)) : .int(-i) }
            if case .double(let d) = value { return .double(-d) }
            throw operandError("-", value, nil, location: location)
        case .not(let operand):
            return .bool(!(try evaluate(operand, scope).isTruthy))
        case .and(let left, let right):
            let l = try evaluate(left, scope)
            return l.isTruthy ? try evaluate(right, scope) : l
        case .or(let left, let right):
            let l = try evaluate(left, scope)
            return l.isTruthy ? l : try evaluate(right, scope)
        case .binary(let op, let left, let right, let location):
            return try binary(op, try evaluate(left, scope), try evaluate(right, scope), location: location)
        case .conditional(let then, let condition, let otherwise):
            if try evaluate(condition, scope).isTruthy { return try evaluate(then, scope) }
            return try otherwise.map { try evaluate($0, scope) } ?? .undefined(hint: "the conditional expression has no else")
        }
    }

    func evaluate(_ arguments: Arguments, _ scope: Scope) throws -> CallArgs {
        var args = CallArgs()
        args.positional = try arguments.positional.map { try evaluate($0, scope) }
        for keyword in arguments.keywords {
            args.keywordOrder.append(keyword.name)
            args.keywords[keyword.name] = try evaluate(keyword.value, scope)
        }
        return args
    }

    func undefinedError(_ value: Value, _ action: String, location: SourceLocation) -> ChatTemplateError {
        guard case .undefined(let hint) = value else { return .evaluation(action, at: location) }
        return .evaluation("\(hint) (while \(action))", at: location)
    }

    /// `a.name`: a dict key or namespace attribute; anything else has no attributes (undefined).
    func attribute(of value: Value, _ name: String, location: SourceLocation) throws -> Value {
        switch value {
        case .undefined:
            throw undefinedError(value, "reading attribute '\(name)'", location: location)
        case .dict(let dict):
            return dict[name] ?? .undefined(hint: "'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined(hint: "'Namespace object' has no attribute '\(name)'")
        default:
            return .undefined(hint: "'\(value.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `a[i]`: list and string indices (negative from the end), dict keys.
    func item(of value: Value, _ index: Value, location: SourceLocation) throws -> Value {
        switch (value, index) {
        case (.undefined, _):
            throw undefinedError(value, "subscripting", location: location)
        case (.array(let items), _) where index.integer != nil:
            let i = index.integer!
            let j = i < 0 ? items.count + i : i
            return items.indices.contains(j) ? items[j] : .undefined(hint: "list index \(i) is out of range")
        case (.string(let s), _) where index.integer != nil:
            let scalars = Array(s.unicodeScalars)
            let i = index.integer!
            let j = i < 0 ? scalars.count + i : i
            return scalars.indices.contains(j) ? .string(String(scalars[j])) : .undefined(hint: "string index \(i) is out of range")
        case (.dict(let dict), .string(let key)):
            return dict[key] ?? .undefined(hint: "'dict object' has no attribute '\(key)'")
        case (.namespace, .string(let key)):
            return try attribute(of: value, key, location: location)
        default:
            return .undefined(hint: "'\(value.typeName) object' has no item \(index.pythonRepr)")
        }
    }

    /// Python slicing `a[start:stop:step]` on lists and strings.
    func slice(_ value: Value, start: Value?, stop: Value?, step: Value?, location: SourceLocation) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v, !(v.isUndefined), !(v.isNone) else { return nil }
            guard let i = v.integer else {
                throw ChatTemplateError.evaluation("slice indices must be integers, not '\(v.typeName)'", at: location)
            }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw ChatTemplateError.evaluation("slice step cannot be zero", at: location) }
        func indices(count: Int) throws -> [Int] {
            func clamp(_ i: Int?, _ defaultValue: Int) -> Int {
                guard var i else { return defaultValue }
                if i < 0 { i += count }
                return stepValue > 0 ? min(max(i, 0), count) : min(max(i, -1), count - 1)
            }
            let lo = clamp(try bound(start), stepValue > 0 ? 0 : count - 1)
            let hi = clamp(try bound(stop), stepValue > 0 ? count : -1)
            return Array(stride(from: lo, to: hi, by: stepValue))
        }
        switch value {
        case .array(let items):
            return .array(try indices(count: items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(count: scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined:
            throw undefinedError(value, "slicing", location: location)
        default:
            throw ChatTemplateError.evaluation("'\(value.typeName)' object cannot be sliced", at: location)
        }
    }

    func operandError(_ op: String, _ a: Value, _ b: Value?, location: SourceLocation) -> ChatTemplateError {
        if a.isUndefined { return undefinedError(a, "applying '\(op)'", location: location) }
        if let b, b.isUndefined { return undefinedError(b, "applying '\(op)'", location: location) }
        let types = b.map { "'\(a.typeName)' and '\($0.typeName)'" } ?? "'\(a.typeName)'"
        return .evaluation("unsupported operand type(s) for \(op): \(types)", at: location)
    }
}

extension Value {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}
