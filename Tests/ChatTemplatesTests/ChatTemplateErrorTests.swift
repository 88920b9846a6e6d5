// Error reporting: every failure is a typed ChatTemplateError that names the template line
// (and column) and what was expected; nothing traps on a bad template or conversation.

import XCTest

@testable import ChatTemplates

final class ChatTemplateErrorTests: XCTestCase {
    /// Asserts that `body` throws a ChatTemplateError and hands it to `check`.
    func expectError(_ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line,
                     _ check: (ChatTemplateError) -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? ChatTemplateError else {
                return XCTFail("expected ChatTemplateError, got \(error)", file: file, line: line)
            }
            check(error)
        }
    }

    func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
        try ChatTemplate(source).render(context: context)
    }

    func testUnsupportedMacroNamesConstructAndLine() {
        expectError(try ChatTemplate("hello\n  {% macro greet(name) %}hi {{ name }}{% endmacro %}")) { error in
            guard case .unsupported(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("macro"), message)
            XCTAssertEqual(at, SourceLocation(line: 2, column: 3))
            XCTAssertTrue(error.description.contains("line 2, column 3"), error.description)
        }
        expectError(try ChatTemplate("{% include 'other.jinja' %}")) { error in
            guard case .unsupported(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("include"), message)
        }
    }

    func testUnknownFilterAndTestAreNamed() {
        expectError(try self.render("a\nb\n{{ 'x' | frobnicate }}")) { error in
            guard case .unsupported(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'frobnicate'"), message)
            XCTAssertEqual(at.line, 3)
        }
        expectError(try self.render("{{ 1 is prime }}")) { error in
            guard case .unsupported(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'prime'"), message)
        }
    }

    func testUnterminatedTagNamesLineAndExpectedCloser() {
        expectError(try ChatTemplate("ok\nthen {{ messages[0].content\nmore")) { error in
            guard case .unterminated(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'}}'"), message)
            XCTAssertEqual(at, SourceLocation(line: 2, column: 6))
        }
        expectError(try ChatTemplate("{% if true")) { error in
            guard case .unterminated(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'%}'"), message)
        }
        expectError(try ChatTemplate("x {# never closed")) { error in
            guard case .unterminated(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'#}'"), message)
        }
        expectError(try ChatTemplate("{{ 'open string }}")) { error in
            guard case .unterminated = error else { return XCTFail("\(error)") }
        }
    }

    func testUnterminatedBlockNamesOpeningLine() {
        expectError(try ChatTemplate("a\n\n{% for m in messages %}\n{{ m.role }}")) { error in
            guard case .unterminated(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("{% for %}") && message.contains("{% endfor %}"), message)
            XCTAssertEqual(at.line, 3)
        }
        expectError(try ChatTemplate("{% if a %}x{% else %}y")) { error in
            guard case .unterminated(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("endif"), message)
        }
    }

    func testMismatchedAndMalformedTags() {
        expectError(try ChatTemplate("{% if a %}\nx{% endfor %}")) { error in
            guard case .syntax(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("endfor") && message.contains("endif"), message)
            XCTAssertEqual(at.line, 2)
        }
        expectError(try ChatTemplate("{{ 1 + }}")) { error in
            guard case .syntax(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("expected an expression"), message)
        }
        expectError(try ChatTemplate("{% endif %}")) { error in
            guard case .syntax = error else { return XCTFail("\(error)") }
        }
        expectError(try ChatTemplate("{{ a b }}")) { error in
            guard case .syntax(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("expected end of tag"), message)
            XCTAssertEqual(at.column, 6)
        }
    }

    func testRaiseExceptionCarriesMessageAndLine() {
        let source = "{% for m in messages %}\n  {% if m.role == 'tool' %}\n    {{ raise_exception('no tools: ' ~ m.role) }}\n  {% endif %}\n{% endfor %}"
        let messages = [ChatMessage(role: "user", content: "hi"), ChatMessage(role: "tool", content: "42")]
        expectError(try ChatTemplate(source).render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: "")) { error in
            XCTAssertEqual(error, .raised("no tools: tool", at: SourceLocation(line: 3, column: 23)))
        }
    }

    func testLlama2RejectsNonAlternatingRoles() throws {
        let llama2 = "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{{ message['content'] }}{% endfor %}"
        let template = try ChatTemplate(llama2)
        let ok = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "assistant", content: "b")]
        XCTAssertEqual(try template.render(messages: ok, addGenerationPrompt: false, bosToken: "<s>", eosToken: "</s>"), "ab")
        let bad = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")]
        expectError(try template.render(messages: bad, addGenerationPrompt: false, bosToken: "<s>", eosToken: "</s>")) { error in
            guard case .raised(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(message, "Conversation roles must alternate user/assistant/user/assistant/...")
            XCTAssertEqual(at.line, 1)
        }
    }

    func testEvaluationErrorsNameTheProblem() {
        expectError(try self.render("\n{{ foo.bar }}")) { error in
            guard case .evaluation(let message, let at) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'foo' is undefined"), message)
            XCTAssertEqual(at.line, 2)
        }
        expectError(try self.render("{{ 'a' + 1 }}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("'str' and 'int'"), message)
        }
        expectError(try self.render("{% set x = 1 %}{% set x.y = 2 %}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("namespace"), message)
        }
        expectError(try self.render("{{ 1 // 0 }}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("division by zero"), message)
        }
        expectError(try self.render("{% for x in 5 %}{% endfor %}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("not iterable"), message)
        }
        XCTAssertEqual(try render("{{ x | tojson }}", ["x": .none]), "null")
        expectError(try self.render("{{ namespace() | tojson }}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("not JSON serializable"), message)
        }
    }

    func testHostileTemplatesFailCleanlyInsteadOfCrashing() throws {
        expectError(try ChatTemplate("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}")) { error in
            guard case .syntax(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("nested"), message)
        }
        expectError(try ChatTemplate(String(repeating: "{% if true %}", count: 5000))) { error in
            guard case .syntax(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("nested"), message)
        }
        expectError(try self.render("{{ 'ab' * 1000000000000 }}")) { error in
            guard case .evaluation(let message, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("more than the output may hold"), message)
        }
        expectError(try self.render("{{ range(10000000) | length }}")) { error in
            guard case .evaluation = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try TemplateValue(json: String(repeating: "[", count: 100_000)))
        let min = Int.min
        XCTAssertEqual(try render("{{ -x }} {{ x | abs }} {{ x // -1 }} {{ x % -1 }}", ["x": .int(min)]),
                       "9.223372036854776e+18 9.223372036854776e+18 9.223372036854776e+18 0")
        XCTAssertEqual(try render("{{ 1 ** 1000000000000000000 }} {{ 2 ** 64 }}"), "1 1.8446744073709552e+19")
        XCTAssertEqual(try render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns.a }}"), "1")
        _ = try render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}")
    }
}

/// Hostile templates (nested loops that would run for hours, output that would fill memory)
/// stop at the render budget with an error naming the template line; real templates stay far
/// below it.
final class ChatTemplateBudgetTests: XCTestCase {
    func testNestedLoopsStopAtTheStepBudget() throws {
        let template = try ChatTemplate("a\n{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
        let t0 = Date()
        XCTAssertThrowsError(try template.render(context: [:])) { e in
            XCTAssertTrue("\(e)".contains("5000000 steps") && "\(e)".contains("line 2"), "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 30, "stopped by the budget, not run to the end")
    }

    /// FuzzChatTemplate's timeout (Fixtures/fuzz): joins of joins over the characters of a
    /// string grow by the separator's length each time, so one expression built gigabytes
    /// before any output was checked. The result's length is now checked before it is built,
    /// and items visited by filters count as steps.
    func testJoinsOfJoinsStopBeforeBuildingGigabytes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz/join_of_joins_timeout.jinja")
        var template = try ChatTemplate(String(decoding: try Data(contentsOf: url), as: UTF8.self))
        template.limits = ChatTemplate.Limits(steps: 50_000, outputBytes: 1 << 20)
        let t0 = Date()
        XCTAssertThrowsError(try template.render(messages: [ChatMessage(role: "user", content: "x"), ChatMessage(role: "assistant", content: "y")],
                                                 addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")) { e in
            XCTAssertTrue("\(e)".contains("more than the output may hold") || "\(e)".contains("steps"), "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
        // 'user' → 184 → 11 164 → 681 k → 41 M bytes: the fifth join is refused before it is built.
        let chain = ["-", "=", "+", "*", "#"].map { "join('" + String(repeating: $0, count: 60) + "')" }.joined(separator: " | ")
        var joins = try ChatTemplate("{{ messages | map(attribute='role') | " + chain + " | length }}")
        joins.limits = ChatTemplate.Limits(steps: 5_000_000, outputBytes: 32 << 20)
        XCTAssertThrowsError(try joins.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false,
                                              bosToken: "", eosToken: "")) { e in
            XCTAssertTrue("\(e)".contains("more than the output may hold"), "\(e)")
        }
        XCTAssertEqual(try ChatTemplate("{{ 'ab' | join('-') }}|{{ 'a-b'.replace('-', '+') }}|{{ ['x', 'y'] | join }}").render(context: [:]),
                       "a-b|a+b|xy")
    }

    func testOutputStopsAtTheByteBudget() throws {
        var template = try ChatTemplate("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")
        template.limits = ChatTemplate.Limits(steps: 10_000_000, outputBytes: 1 << 20)
        XCTAssertThrowsError(try template.render(context: [:])) { e in
            XCTAssertTrue("\(e)".contains("1048576 bytes"), "\(e)")
        }
        template.limits = ChatTemplate.Limits(steps: 10_000_000, outputBytes: 200 << 20)
        XCTAssertEqual(try template.render(context: [:]).utf8.count, 100_000_000)
    }

    func testASmallBudgetIsHonouredExactly() throws {
        var template = try ChatTemplate("{% for i in range(10) %}{{ i }}{% endfor %}")
        template.limits = ChatTemplate.Limits(steps: 1 + 2 * 10, outputBytes: 100)   // the loop node, then per item: iteration + output
        XCTAssertEqual(try template.render(context: [:]), "0123456789")
        template.limits = ChatTemplate.Limits(steps: 2 * 10, outputBytes: 100)
        XCTAssertThrowsError(try template.render(context: [:]))
    }
}
