// Interpreter: renders parsed nodes. Scoping follows Jinja: `set` writes to the innermost
// scope; each for-loop iteration gets a fresh scope (assignments do not leak out of the loop
// or into the next iteration); `if` opens none; namespaces are shared by reference.

import Foundation

final class Scope {
    private var variables: [String: Value] = [:]
    private let parent: Scope?

    init(parent: Scope?, variables: [String: Value] = [:]) {
        self.parent = parent
        self.variables = variables
    }

    func lookup(_ name: String) -> Value? {
        variables[name] ?? parent?.lookup(name)
    }

    func assign(_ name: String, _ value: Value) { variables[name] = value }
}

/// Arguments after evaluation.
struct CallArgs {
    var positional: [Value] = []
    /// Keyword arguments in call order (namespace(a=1, b=2) keeps a before b).
    var keywordOrder: [String] = []
    var keywords: [String: Value] = [:]

    /// The argument at `index`, or passed as `name=`, or nil.
    func arg(_ index: Int, _ name: String) -> Value? {
        index < positional.count ? positional[index] : keywords[name]
    }
}

/// What one render has used of its limits (shared by the nested executions of that render).
final class RenderBudget {
    let limits: ChatTemplate.Limits
    var steps = 0
    init(_ limits: ChatTemplate.Limits) { self.limits = limits }

    /// Where the last located node was (the error's location for nodes that record none).
    var lastLocation: SourceLocation?

    /// Counts one step and checks the output so far; throws once either limit is passed.
    func spend(_ out: String, at nodeLocation: SourceLocation?) throws {
        steps += 1
        if let nodeLocation { lastLocation = nodeLocation }
        guard steps > limits.steps || out.utf8.count > limits.outputBytes else { return }
        let location = lastLocation ?? SourceLocation(line: 1, column: 1)
        if steps > limits.steps {
            throw ChatTemplateError.evaluation("the template ran more than \(limits.steps) steps (a loop too big or without end); "
                + "rendering stopped", at: location)
        }
        if out.utf8.count > limits.outputBytes {
            throw ChatTemplateError.evaluation("the template wrote more than \(limits.outputBytes) bytes; rendering stopped", at: location)
        }
    }
    /// Counts `units` of work done inside one expression (the items a filter or join visits),
    /// so a chain of filters over a huge value meets the step limit too.
    func charge(_ units: Int, at location: SourceLocation) throws {
        steps += max(0, units)
        if steps > limits.steps {
            throw ChatTemplateError.evaluation("the template ran more than \(limits.steps) steps (a loop too big or without end); "
                + "rendering stopped", at: location)
        }
    }

    /// Throws before a string of `bytes` is built when it could not fit in the output anyway
    /// (joins of joins grow multiplicatively: four of them turn a message list into gigabytes).
    func checkLength(_ bytes: Int, at location: SourceLocation) throws {
        guard bytes > limits.outputBytes else { return }
        throw ChatTemplateError.evaluation("an expression would build a string of \(bytes) bytes, more than the output may hold "
            + "(\(limits.outputBytes) bytes); rendering stopped", at: location)
    }

    /// `items` joined by `separator`, after checking the result's length and charging its items.
    func joined(_ items: [Value], separator: String, at location: SourceLocation) throws -> String {
        try charge(items.count, at: location)
        let strings = items.map(\.pythonString)
        let (gaps, overflow) = separator.utf8.count.multipliedReportingOverflow(by: max(0, strings.count - 1))
        try checkLength(overflow ? .max : strings.reduce(gaps) { $0 &+ $1.utf8.count }, at: location)
        return strings.joined(separator: separator)
    }
}

struct Interpreter {
    /// The clock behind `strftime_now` (transformers uses the local time of `datetime.now()`).
    var now: () -> Date = Date.init
    /// Steps and output this render may still use.
    var budget = RenderBudget(.standard)

    enum Flow { case normal, breakLoop, continueLoop }

    func render(_ nodes: [Node], context: [String: Value]) throws -> String {
        var globals: [String: Value] = [:]
        for builtin in [Builtin.raiseException, .strftimeNow, .namespace, .dict, .range] {
            globals[builtin.rawValue] = .function(builtin)
        }
        let scope = Scope(parent: Scope(parent: nil, variables: globals), variables: context)
        var out = ""
        _ = try execute(nodes, scope: scope, into: &out)
        return out
    }

    func execute(_ nodes: [Node], scope: Scope, into out: inout String) throws -> Flow {
        for node in nodes {
            try budget.spend(out, at: node.location)
            switch node {
            case .text(let text):
                out += text
            case .output(let expr, _):
                out += try evaluate(expr, scope).pythonString
            case .ifChain(let branches, let otherwise):
                var taken = false
                for branch in branches {
                    guard try evaluate(branch.condition, scope).isTruthy else { continue }
                    taken = true
                    let flow = try execute(branch.body, scope: scope, into: &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(otherwise, scope: scope, into: &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let loop):
                try executeFor(loop, scope: scope, into: &out)
            case .set(let target, let expr, let location):
                try assign(target, try evaluate(expr, scope), scope: scope, location: location)
            case .setBlock(let name, let body):
                var captured = ""
                _ = try execute(body, scope: scope, into: &captured)
                scope.assign(name, .string(captured))
            case .loopBreak:
                return .breakLoop
            case .loopContinue:
                return .continueLoop
            case .generation(let body):
                let flow = try execute(body, scope: scope, into: &out)
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    private func assign(_ target: AssignTarget, _ value: Value, scope: Scope, location: SourceLocation) throws {
        switch target {
        case .name(let name):
            scope.assign(name, value)
        case .names(let names):
            let items = try iterate(value, location: location)
            guard items.count == names.count else {
                throw ChatTemplateError.evaluation(
                    "cannot unpack \(items.count) values into \(names.count) names (\(names.joined(separator: ", ")))", at: location)
            }
            for (name, item) in zip(names, items) { scope.assign(name, item) }
        case .attribute(let object, let attribute):
            guard case .namespace(let ns)? = scope.lookup(object) else {
                throw ChatTemplateError.evaluation(
                    "cannot assign attribute '\(attribute)' on '\(object)': expected a namespace() object", at: location)
            }
            ns.attributes[attribute] = value
        }
    }

    private func executeFor(_ loop: ForLoop, scope: Scope, into out: inout String) throws {
        var items = try iterate(try evaluate(loop.iterable, scope), location: loop.location)
        if let condition = loop.condition {
            items = try items.filter { item in
                let probe = Scope(parent: scope)
                try assign(loop.target, item, scope: probe, location: loop.location)
                return try evaluate(condition, probe).isTruthy
            }
        }
        if items.isEmpty {
            _ = try execute(loop.otherwise, scope: scope, into: &out)
            return
        }
        let count = items.count
        for (i, item) in items.enumerated() {
            let iteration = Scope(parent: scope)
            try assign(loop.target, item, scope: iteration, location: loop.location)
            var info = ValueDict()
            info["index"] = .int(i + 1)
            info["index0"] = .int(i)
            info["revindex"] = .int(count - i)
            info["revindex0"] = .int(count - i - 1)
            info["first"] = .bool(i == 0)
            info["last"] = .bool(i == count - 1)
            info["length"] = .int(count)
            info["previtem"] = i > 0 ? items[i - 1] : .undefined(hint: "there is no previous item")
            info["nextitem"] = i + 1 < count ? items[i + 1] : .undefined(hint: "there is no next item")
            iteration.assign("loop", .dict(info))
            try budget.spend(out, at: loop.location)
            if try execute(loop.body, scope: iteration, into: &out) == .breakLoop { break }
        }
    }

    /// The items a `for` visits: list items, dict keys, string characters; undefined is empty.
    func iterate(_ value: Value, location: SourceLocation) throws -> [Value] {
        switch value {
        case .array(let items): return items
        case .dict(let dict): return dict.keys.map(Value.string)
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default:
            throw ChatTemplateError.evaluation("'\(value.typeName)' object is not iterable", at: location)
        }
    }
}
