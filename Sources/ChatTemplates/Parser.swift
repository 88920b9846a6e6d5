// Parser: the syntax tree (statements holding expressions, each failing node with its source
// location) and the statement parser: if/elif/else, for (with a filter and else), set (name,
// tuple, namespace attribute, block), break/continue, generation. Any other tag is reported
// by name as unsupported; a block still open at the end as unterminated.

/// A constant written in the template.
enum Literal: Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

/// A binary operator of Jinja's expression language.
enum BinaryOp: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", floorDiv = "//", mod = "%", pow = "**"
    case concat = "~"
    case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">="
    case `in` = "in", notIn = "not in"
}

/// Positional and keyword arguments of a call, filter or test.
struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(name: String, value: Expr)] = []
}

indirect enum Expr: Sendable {
    case literal(Literal)
    case name(String, SourceLocation)
    case list([Expr])
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)])
    case attribute(Expr, String, SourceLocation)
    case subscript_(Expr, Expr, SourceLocation)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, SourceLocation)
    case call(Expr, Arguments, SourceLocation)
    case filter(Expr, String, Arguments, SourceLocation)
    case test(Expr, String, Arguments, negated: Bool, SourceLocation)
    case negate(Expr, SourceLocation)
    case not(Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case binary(BinaryOp, Expr, Expr, SourceLocation)
    case conditional(then: Expr, condition: Expr, otherwise: Expr?)
}

/// What a `{% set %}` or `{% for %}` assigns to.
enum AssignTarget: Sendable {
    case name(String)
    case names([String])
    case attribute(String, String)
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr, SourceLocation)
    case ifChain([(condition: Expr, body: [Node])], otherwise: [Node])
    case forLoop(ForLoop)
    case set(AssignTarget, Expr, SourceLocation)
    case setBlock(String, [Node])
    case loopBreak(SourceLocation)
    case loopContinue(SourceLocation)
    /// transformers' `{% generation %}` block (assistant-token tracking): renders its body.
    case generation([Node])
}

extension Node {
    /// Where the node starts, for the nodes that record it.
    var location: SourceLocation? {
        switch self {
        case .output(_, let at), .set(_, _, let at), .loopBreak(let at), .loopContinue(let at): at
        case .forLoop(let loop): loop.location
        case .text, .ifChain, .setBlock, .generation: nil
        }
    }
}

struct ForLoop: Sendable {
    var target: AssignTarget
    var iterable: Expr
    var condition: Expr?
    var body: [Node]
    var otherwise: [Node]
    var location: SourceLocation
}

struct Parser {
    private let segments: [Segment]
    private var index = 0
    /// Open blocks; bounded so a hostile template cannot exhaust the stack.
    private var blockDepth = 0

    private static let unsupportedTags: Set<String> = [
        "macro", "call", "filter", "block", "extends", "include", "import", "from", "with",
        "autoescape", "trans", "do", "print",
    ]

    init(segments: [Segment]) { self.segments = segments }

    static func parse(_ source: String) throws -> [Node] {
        var parser = Parser(segments: try Lexer.segments(of: source))
        let (nodes, end) = try parser.parseBody(until: [])
        if let end {
            throw ChatTemplateError.syntax("unexpected '{% \(end.name) %}' with no open block", at: end.location)
        }
        return nodes
    }

    /// Parses nodes until one of `terminators` (returned with its tokens) or the end of input.
    private mutating func parseBody(until terminators: Set<String>)
        throws -> ([Node], (name: String, location: SourceLocation, tokens: TokenStream)?)
    {
        var nodes: [Node] = []
        while index < segments.count {
            let segment = segments[index]
            index += 1
            switch segment {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let tokens, let location):
                var stream = TokenStream(tokens)
                if stream.peek.kind == .end {
                    throw ChatTemplateError.syntax("expected an expression inside '{{ }}'", at: location)
                }
                let expr = try stream.parseExpression()
                try stream.expectEnd()
                nodes.append(.output(expr, location))
            case .statement(let tokens, let location):
                var stream = TokenStream(tokens)
                guard stream.peek.kind == .name else {
                    throw ChatTemplateError.syntax("expected a statement name after '{%'", at: location)
                }
                let name = stream.next().text
                if terminators.contains(name) { return (nodes, (name, location, stream)) }
                if name.hasPrefix("end") || name == "elif" || name == "else" {
                    return (nodes, (name, location, stream))
                }
                nodes.append(try parseStatement(name, stream: &stream, location: location))
            }
        }
        return (nodes, nil)
    }

    private mutating func parseStatement(_ name: String, stream: inout TokenStream, location: SourceLocation) throws -> Node {
        blockDepth += 1
        defer { blockDepth -= 1 }
        guard blockDepth <= TokenStream.maxDepth else {
            throw ChatTemplateError.syntax("blocks nested more than \(TokenStream.maxDepth) levels deep", at: location)
        }
        switch name {
        case "if": return try parseIf(stream: &stream, location: location)
        case "for": return try parseFor(stream: &stream, location: location)
        case "set": return try parseSet(stream: &stream, location: location)
        case "break":
            try stream.expectEnd()
            return .loopBreak(location)
        case "continue":
            try stream.expectEnd()
            return .loopContinue(location)
        case "generation":
            try stream.expectEnd()
            let body = try parseBlock(opened: "generation", at: location, ends: ["endgeneration"]).body
            return .generation(body)
        default:
            if Self.unsupportedTags.contains(name) {
                throw ChatTemplateError.unsupported("'{% \(name) %}' statements are not supported by this engine", at: location)
            }
            throw ChatTemplateError.unsupported("unknown statement '{% \(name) %}'", at: location)
        }
    }

    /// A body that must end with one of `ends`; an open block at end of input is unterminated.
    private mutating func parseBlock(opened: String, at location: SourceLocation, ends: Set<String>)
        throws -> (body: [Node], end: String, tokens: TokenStream)
    {
        let (body, end) = try parseBody(until: ends)
        guard let end else {
            let expected = ends.sorted().map { "'{% \($0) %}'" }.joined(separator: " or ")
            throw ChatTemplateError.unterminated("'{% \(opened) %}' block is never closed: expected \(expected)", at: location)
        }
        guard ends.contains(end.name) else {
            let expected = ends.sorted().map { "'\($0)'" }.joined(separator: " or ")
            throw ChatTemplateError.syntax(
                "unexpected '{% \(end.name) %}' inside '{% \(opened) %}' (opened at \(location)): expected \(expected)",
                at: end.location)
        }
        return (body, end.name, end.tokens)
    }

    private mutating func parseIf(stream: inout TokenStream, location: SourceLocation) throws -> Node {
        var branches: [(condition: Expr, body: [Node])] = []
        var condition = try stream.parseExpression()
        try stream.expectEnd()
        while true {
            var (body, end, tokens) = try parseBlock(opened: "if", at: location, ends: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try tokens.parseExpression()
                try tokens.expectEnd()
            case "else":
                try tokens.expectEnd()
                let rest = try parseBlock(opened: "if", at: location, ends: ["endif"])
                var endTokens = rest.tokens
                try endTokens.expectEnd()
                return .ifChain(branches, otherwise: rest.body)
            default:
                try tokens.expectEnd()
                return .ifChain(branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(stream: inout TokenStream, location: SourceLocation) throws -> Node {
        var names: [String] = [try stream.expectName("a loop variable name after 'for'")]
        while stream.peek.isOp(",") {
            _ = stream.next()
            names.append(try stream.expectName("a loop variable name after ','"))
        }
        guard stream.next().isName("in") else {
            throw ChatTemplateError.syntax("expected 'in' after the loop variables of 'for'", at: stream.lastLocation)
        }
        let iterable = try stream.parseExpression(allowConditional: false)
        var condition: Expr?
        if stream.peek.isName("if") {
            _ = stream.next()
            condition = try stream.parseExpression(allowConditional: false)
        }
        if stream.peek.isName("recursive") {
            throw ChatTemplateError.unsupported("recursive for loops are not supported", at: stream.peek.location)
        }
        try stream.expectEnd()
        var (body, end, tokens) = try parseBlock(opened: "for", at: location, ends: ["else", "endfor"])
        try tokens.expectEnd()
        var otherwise: [Node] = []
        if end == "else" {
            var rest = try parseBlock(opened: "for", at: location, ends: ["endfor"])
            try rest.tokens.expectEnd()
            otherwise = rest.body
        }
        let target: AssignTarget = names.count == 1 ? .name(names[0]) : .names(names)
        return .forLoop(ForLoop(target: target, iterable: iterable, condition: condition,
                                body: body, otherwise: otherwise, location: location))
    }

    private mutating func parseSet(stream: inout TokenStream, location: SourceLocation) throws -> Node {
        let first = try stream.expectName("a variable name after 'set'")
        var target = AssignTarget.name(first)
        if stream.peek.isOp(".") {
            _ = stream.next()
            target = .attribute(first, try stream.expectName("an attribute name after '.'"))
        } else if stream.peek.isOp(",") {
            var names = [first]
            while stream.peek.isOp(",") {
                _ = stream.next()
                names.append(try stream.expectName("a variable name after ','"))
            }
            target = .names(names)
        }
        if stream.peek.kind == .end, case .name(let name) = target {
            try stream.expectEnd()
            var rest = try parseBlock(opened: "set", at: location, ends: ["endset"])
            try rest.tokens.expectEnd()
            return .setBlock(name, rest.body)
        }
        guard stream.next().isOp("=") else {
            throw ChatTemplateError.syntax("expected '=' in 'set'", at: stream.lastLocation)
        }
        let value = try stream.parseExpression()
        try stream.expectEnd()
        return .set(target, value, location)
    }
}
