// Interpreter+Operators: binary operators with Python's rules: int/float promotion (bool is
// an int), string and list `+`, repetition with `*`, floor division and modulo rounding
// toward negative infinity, `~` joining the str() of both sides, `in` for str/list/dict.

import Foundation

extension Interpreter {
    func binary(_ op: BinaryOp, _ a: Value, _ b: Value, location: SourceLocation) throws -> Value {
        switch op {
        case .eq: return .bool(Value.pyEquals(a, b))
        case .ne: return .bool(!Value.pyEquals(a, b))
        case .lt, .le, .gt, .ge: return .bool(try compare(op, a, b, location: location))
        case .in: return .bool(try contains(b, a, location: location))
        case .notIn: return .bool(!(try contains(b, a, location: location)))
        case .concat:
            let (x, y) = (a.pythonString, b.pythonString)
            try budget.checkLength(x.utf8.count + y.utf8.count, at: location)
            return .string(x + y)
        case .add: return try add(a, b, location: location)
        case .sub, .mul, .div, .floorDiv, .mod, .pow: return try arithmetic(op, a, b, location: location)
        }
    }

    private func add(_ a: Value, _ b: Value, location: SourceLocation) throws -> Value {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            try budget.checkLength(x.utf8.count + y.utf8.count, at: location)
            return .string(x + y)
        case (.array(let x), .array(let y)):
            try budget.charge(x.count + y.count, at: location)
            return .array(x + y)
        default:
            if let x = a.integer, let y = b.integer {
                let (sum, overflow) = x.addingReportingOverflow(y)
                return overflow ? .double(Double(x) + Double(y)) : .int(sum)
            }
            if let x = a.number, let y = b.number { return .double(x + y) }
            throw operandError("+", a, b, location: location)
        }
    }

    private func arithmetic(_ op: BinaryOp, _ a: Value, _ b: Value, location: SourceLocation) throws -> Value {
        if op == .mul {
            switch (a, b) {
            case (.string(let s), _) where b.integer != nil:
                return .string(String(repeating: s, count: try repeatCount(s.utf8.count, b.integer!, location)))
            case (_, .string(let s)) where a.integer != nil:
                return .string(String(repeating: s, count: try repeatCount(s.utf8.count, a.integer!, location)))
            case (.array(let items), _) where b.integer != nil:
                // Counted as ~16 bytes per element against the same 100 MB bound.
                return .array(Array(repeatElement(items, count: try repeatCount(items.count * 16, b.integer!, location)).joined()))
            default: break
            }
        }
        if op == .mod, case .string = a {
            throw ChatTemplateError.unsupported("printf-style string formatting with '%' is not supported", at: location)
        }
        guard let x = a.number, let y = b.number else { throw operandError(op.rawValue, a, b, location: location) }
        let bothInt = a.integer != nil && b.integer != nil
        if [.div, .floorDiv, .mod].contains(op), y == 0 {
            throw ChatTemplateError.evaluation("division by zero", at: location)
        }
        switch op {
        case .sub:
            if bothInt, case (let r, false) = a.integer!.subtractingReportingOverflow(b.integer!) { return .int(r) }
            return .double(x - y)
        case .mul:
            if bothInt, case (let r, false) = a.integer!.multipliedReportingOverflow(by: b.integer!) { return .int(r) }
            return .double(x * y)
        case .div:
            return .double(x / y)
        case .floorDiv:
            if bothInt, b.integer! == -1 { return try binary(.mul, a, .int(-1), location: location) }
            if bothInt {
                let (i, j) = (a.integer!, b.integer!)
                let q = i / j
                return .int((i % j != 0 && (i < 0) != (j < 0)) ? q - 1 : q)
            }
            return .double((x / y).rounded(.down))
        case .mod:
            if bothInt, b.integer! == -1 { return .int(0) }
            if bothInt {
                let (i, j) = (a.integer!, b.integer!)
                let r = i % j
                return .int(r != 0 && (r < 0) != (j < 0) ? r + j : r)
            }
            let r = fmod(x, y)
            return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
        default:  // pow
            if bothInt, b.integer! >= 0 {  // by squaring; falls back to float on overflow
                var (result, base, exponent) = (1, a.integer!, b.integer!)
                while exponent > 0 {
                    if exponent & 1 == 1 {
                        let (r, overflow) = result.multipliedReportingOverflow(by: base)
                        if overflow { return .double(pow(x, y)) }
                        result = r
                    }
                    exponent >>= 1
                    if exponent > 0 {
                        let (squared, overflow) = base.multipliedReportingOverflow(by: base)
                        if overflow { return .double(pow(x, y)) }
                        base = squared
                    }
                }
                return .int(result)
            }
            return .double(pow(x, y))
        }
    }

    /// The repeat count of `s * n`, refusing results over 100 MB rather than exhausting memory.
    private func repeatCount(_ unit: Int, _ n: Int, _ location: SourceLocation) throws -> Int {
        let count = max(0, n)
        let (total, overflow) = unit.multipliedReportingOverflow(by: count)
        try budget.checkLength(overflow ? .max : total, at: location)
        return count
    }

    /// The UTF-8 length of `s` with `old` replaced by `new` everywhere (Python's rule for an
    /// empty `old`: `new` before every character and at the end), without building it.
    static func replacedLength(_ s: String, _ old: String, _ new: String) -> Int {
        let n = s.utf8.count, delta = new.utf8.count - old.utf8.count
        let occurrences = old.isEmpty ? s.unicodeScalars.count + 1 : s.components(separatedBy: old).count - 1
        let (change, overflow) = occurrences.multipliedReportingOverflow(by: old.isEmpty ? new.utf8.count : delta)
        return overflow ? .max : n + change
    }

    /// `<`, `<=`, `>`, `>=` on numbers, strings (by code point) and lists.
    func compare(_ op: BinaryOp, _ a: Value, _ b: Value, location: SourceLocation) throws -> Bool {
        let order = try ordering(a, b, op: op, location: location)
        switch op {
        case .lt: return order < 0
        case .le: return order <= 0
        case .gt: return order > 0
        default: return order >= 0
        }
    }

    func ordering(_ a: Value, _ b: Value, op: BinaryOp, location: SourceLocation) throws -> Int {
        if let x = a.number, let y = b.number { return x < y ? -1 : (x > y ? 1 : 0) }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let xs = x.unicodeScalars.map(\.value), ys = y.unicodeScalars.map(\.value)
            return xs == ys ? 0 : (xs.lexicographicallyPrecedes(ys) ? -1 : 1)
        case (.array(let x), .array(let y)):
            for (l, r) in zip(x, y) where !Value.pyEquals(l, r) {
                return try ordering(l, r, op: op, location: location)
            }
            return x.count < y.count ? -1 : (x.count > y.count ? 1 : 0)
        default:
            if a.isUndefined || b.isUndefined { throw operandError(op.rawValue, a, b, location: location) }
            throw ChatTemplateError.evaluation(
                "'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", at: location)
        }
    }

    /// `needle in container`.
    func contains(_ container: Value, _ needle: Value, location: SourceLocation) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw ChatTemplateError.evaluation(
                    "'in <string>' requires string as left operand, not '\(needle.typeName)'", at: location)
            }
            return n.isEmpty || s.contains(n)
        case .array(let items):
            return items.contains { Value.pyEquals($0, needle) }
        case .dict(let dict):
            guard case .string(let key) = needle else { return false }
            return dict[key] != nil
        case .namespace(let ns):
            guard case .string(let key) = needle else { return false }
            return ns.attributes[key] != nil
        case .undefined:
            return false
        default:
            throw ChatTemplateError.evaluation("argument of type '\(container.typeName)' is not iterable", at: location)
        }
    }
}
