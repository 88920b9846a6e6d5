// Parser+Expressions: Jinja's expression grammar, by its precedence (lowest first):
// `a if c else b`, or, and, not, comparisons and `in`, + -, ~, * / // %, **, unary minus,
// then primaries with postfix `.attr`, `[i]`, `[a:b]`, calls, `| filter` and `is test`.

struct TokenStream {
    private let tokens: [Token]
    private var position = 0
    /// Nesting of sub-expressions; bounded so a hostile template cannot exhaust the stack. A
    /// chain (`a + b + …`, `x.a.b…`, `x | f | g…`) counts one level per link: it builds a tree
    /// as deep as nesting does, and the interpreter recurses once per level.
    var depth = 0
    static let maxDepth = 200

    init(_ tokens: [Token]) { self.tokens = tokens }

    var peek: Token { tokens[position] }
    func lookahead(_ offset: Int) -> Token { tokens[min(position + offset, tokens.count - 1)] }
    var lastLocation: SourceLocation { tokens[max(0, position - 1)].location }

    mutating func next() -> Token {
        let token = tokens[position]
        if token.kind != .end { position += 1 }
        return token
    }

    private static func describe(_ token: Token) -> String {
        switch token.kind {
        case .end: return "end of tag '\(token.text)'"
        case .string: return "string literal"
        default: return "'\(token.text)'"
        }
    }

    func unexpected(_ expected: String) -> ChatTemplateError {
        .syntax("expected \(expected), found \(Self.describe(peek))", at: peek.location)
    }

    mutating func expectEnd() throws {
        guard peek.kind == .end else { throw unexpected("end of tag") }
    }

    mutating func expectName(_ what: String) throws -> String {
        guard peek.kind == .name else { throw unexpected(what) }
        return next().text
    }

    mutating func expectOp(_ op: String) throws {
        guard peek.isOp(op) else { throw unexpected("'\(op)'") }
        _ = next()
    }

    // MARK: precedence levels

    mutating func parseExpression(allowConditional: Bool = true) throws -> Expr {
        try enter()
        defer { depth -= 1 }
        let value = try parseOr()
        guard allowConditional, peek.isName("if") else { return value }
        _ = next()
        let condition = try parseOr()
        var otherwise: Expr?
        if peek.isName("else") {
            _ = next()
            otherwise = try parseExpression()
        }
        return .conditional(then: value, condition: condition, otherwise: otherwise)
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        let outer = depth
        defer { depth = outer }
        while peek.isName("or") {
            try enter()
            _ = next()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        let outer = depth
        defer { depth = outer }
        while peek.isName("and") {
            try enter()
            _ = next()
            left = .and(left, try parseNot())
        }
        return left
    }

    mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else {
            throw ChatTemplateError.syntax("expression nested more than \(Self.maxDepth) levels deep", at: peek.location)
        }
    }

    private mutating func parseNot() throws -> Expr {
        if peek.isName("not") {
            _ = next()
            try enter()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private static let comparisons: [String: BinaryOp] = ["==": .eq, "!=": .ne, "<": .lt, "<=": .le, ">": .gt, ">=": .ge]

    /// Comparisons chain as in Python: `a < b <= c` means `a < b and b <= c`.
    private mutating func parseCompare() throws -> Expr {
        var operand = try parseAdditive()
        var chain: Expr?
        let outer = depth
        defer { depth = outer }
        while true {
            let token = peek
            let op: BinaryOp
            if token.kind == .op, let comparison = Self.comparisons[token.text] {
                _ = next()
                op = comparison
            } else if token.isName("in") {
                _ = next()
                op = .in
            } else if token.isName("not"), lookahead(1).isName("in") {
                _ = next()
                _ = next()
                op = .notIn
            } else {
                return chain ?? operand
            }
            try enter()
            let right = try parseAdditive()
            let comparison = Expr.binary(op, operand, right, token.location)
            chain = chain.map { .and($0, comparison) } ?? comparison
            operand = right
        }
    }

    private mutating func parseBinary(_ ops: [String: BinaryOp], next lower: (inout TokenStream) throws -> Expr) throws -> Expr {
        var left = try lower(&self)
        let outer = depth
        defer { depth = outer }
        while peek.kind == .op, let op = ops[peek.text] {
            try enter()
            let location = next().location
            left = .binary(op, left, try lower(&self), location)
        }
        return left
    }

    private mutating func parseAdditive() throws -> Expr {
        try parseBinary(["+": .add, "-": .sub]) { try $0.parseConcat() }
    }

    private mutating func parseConcat() throws -> Expr {
        try parseBinary(["~": .concat]) { try $0.parseMultiplicative() }
    }

    private mutating func parseMultiplicative() throws -> Expr {
        try parseBinary(["*": .mul, "/": .div, "//": .floorDiv, "%": .mod]) { try $0.parsePower() }
    }

    private mutating func parsePower() throws -> Expr {
        try parseBinary(["**": .pow]) { try $0.parseUnary(withFilters: true) }
    }

    private mutating func parseUnary(withFilters: Bool) throws -> Expr {
        var node: Expr
        try enter()
        defer { depth -= 1 }
        if peek.isOp("-") {
            let location = next().location
            node = .negate(try parseUnary(withFilters: false), location)
        } else if peek.isOp("+") {
            _ = next()
            node = try parseUnary(withFilters: false)
        } else {
            node = try parsePostfix(try parsePrimary())
        }
        return withFilters ? try parseFiltersAndTests(node) : node
    }
}
