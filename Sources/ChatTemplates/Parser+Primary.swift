// Parser+Primary: literals, names, parenthesised expressions and tuples, list and dict
// displays, and the postfix chain: attribute, subscript, slice, call, `| filter`, `is test`.

extension TokenStream {
    mutating func parsePrimary() throws -> Expr {
        let token = peek
        switch token.kind {
        case .name:
            _ = next()
            switch token.text {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(token.text, token.location)
            }
        case .string:
            var text = next().text
            while peek.kind == .string { text += next().text }  // adjacent literals concatenate
            return .literal(.string(text))
        case .integer:
            return .literal(.int(next().intValue))
        case .float:
            return .literal(.double(next().doubleValue))
        case .op where token.text == "(":
            _ = next()
            if peek.isOp(")") {
                _ = next()
                return .tuple([])
            }
            let first = try parseExpression()
            guard peek.isOp(",") else {
                try expectOp(")")
                return first
            }
            var items = [first]
            while peek.isOp(",") {
                _ = next()
                if peek.isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op where token.text == "[":
            _ = next()
            var items: [Expr] = []
            while !peek.isOp("]") {
                items.append(try parseExpression())
                if !peek.isOp(",") { break }
                _ = next()
            }
            try expectOp("]")
            return .list(items)
        case .op where token.text == "{":
            _ = next()
            var pairs: [(key: Expr, value: Expr)] = []
            while !peek.isOp("}") {
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
                if !peek.isOp(",") { break }
                _ = next()
            }
            try expectOp("}")
            return .dict(pairs)
        default:
            throw unexpected("an expression")
        }
    }

    mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var node = base
        let outer = depth
        defer { depth = outer }
        while true {
            let token = peek
            guard token.isOp(".") || token.isOp("[") || token.isOp("(") else { return node }
            try enter()  // one level per link: x.a.b… is as deep a tree as nesting
            if token.isOp(".") {
                _ = next()
                let name = peek
                if name.kind == .name {
                    node = .attribute(node, next().text, token.location)
                } else if name.kind == .integer {
                    node = .subscript_(node, .literal(.int(next().intValue)), token.location)
                } else {
                    throw unexpected("an attribute name after '.'")
                }
            } else if token.isOp("[") {
                _ = next()
                node = try parseSubscript(node, location: token.location)
            } else if token.isOp("(") {
                _ = next()
                node = .call(node, try parseArguments(), token.location)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr, location: SourceLocation) throws -> Expr {
        var parts: [Expr?] = []
        var current: Expr?
        var isSlice = false
        while !peek.isOp("]") {
            if peek.isOp(":") {
                _ = next()
                parts.append(current)
                current = nil
                isSlice = true
                continue
            }
            if current != nil { throw unexpected("':' or ']'") }
            current = try parseExpression()
        }
        try expectOp("]")
        parts.append(current)
        guard isSlice else {
            guard let index = parts[0] else { throw ChatTemplateError.syntax("expected an index inside '[]'", at: location) }
            return .subscript_(base, index, location)
        }
        guard parts.count <= 3 else { throw ChatTemplateError.syntax("a slice takes at most start:stop:step", at: location) }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, start: parts[0], stop: parts[1], step: parts[2], location)
    }

    /// After '(' : positional arguments, then `name=value` keywords, then ')'.
    mutating func parseArguments() throws -> Arguments {
        var args = Arguments()
        while !peek.isOp(")") {
            if peek.kind == .name, lookahead(1).isOp("=") {
                let name = next().text
                _ = next()
                args.keywords.append((name, try parseExpression()))
            } else {
                if !args.keywords.isEmpty {
                    throw ChatTemplateError.syntax("positional argument after a keyword argument", at: peek.location)
                }
                args.positional.append(try parseExpression())
            }
            if !peek.isOp(",") { break }
            _ = next()
        }
        try expectOp(")")
        return args
    }

    mutating func parseFiltersAndTests(_ base: Expr) throws -> Expr {
        var node = base
        let outer = depth
        defer { depth = outer }
        while true {
            guard peek.isOp("|") || peek.isName("is") else { return node }
            try enter()  // one level per filter or test, as for postfix chains
            if peek.isOp("|") {
                _ = next()
                let location = peek.location
                let name = try expectName("a filter name after '|'")
                var args = Arguments()
                if peek.isOp("(") {
                    _ = next()
                    args = try parseArguments()
                }
                node = .filter(node, name, args, location)
            } else if peek.isName("is") {
                _ = next()
                var negated = false
                if peek.isName("not") {
                    _ = next()
                    negated = true
                }
                let location = peek.location
                let name = try expectName("a test name after 'is'")
                var args = Arguments()
                if peek.isOp("(") {
                    _ = next()
                    args = try parseArguments()
                } else if startsBareTestArgument {
                    args.positional = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name, args, negated: negated, location)
            } else {
                return node
            }
        }
    }

    /// Jinja lets a test take one argument without parentheses: `x is divisibleby 3`.
    private var startsBareTestArgument: Bool {
        let token = peek
        switch token.kind {
        case .string, .integer, .float: return true
        case .name: return !["else", "or", "and", "is", "in", "not", "if"].contains(token.text)
        case .op: return token.text == "[" || token.text == "{"
        case .end: return false
        }
    }
}
