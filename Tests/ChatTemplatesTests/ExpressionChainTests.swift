// Long operator and postfix chains in a template (found by probing Fuzz/LorikeetFuzz's
// FuzzChatTemplate): `x.a.a…`, `1 + 1 + …`, `x | f | f…` build a tree as deep as the chain
// and the interpreter recursed once per link until the stack overflowed. Each link now counts
// toward the parser's nesting bound, so a hostile chain is a syntax error, not a crash.
import XCTest
@testable import ChatTemplates

final class ExpressionChainTests: XCTestCase {
    static let links: [(String, String)] = [
        ("x", ".a"), ("x", "[0]"), ("f", "()"), ("1", " + 1"), ("'a'", " ~ 'b'"), ("2", " * 1"), ("2", " ** 1"),
        ("x", " | upper"), ("a", " and b"), ("a", " or b"), ("1", " < 2"),
    ]

    func testHostileChainsAreSyntaxErrors() {
        for (base, link) in Self.links {
            let source = "{{ " + base + String(repeating: link, count: 50_000) + " }}"
            XCTAssertThrowsError(try ChatTemplate(source), "\(base)\(link)…") { error in
                guard case .syntax? = error as? ChatTemplateError else { return XCTFail("\(base)\(link)…: \(error)") }
            }
        }
    }

    func testOrdinaryChainsStillRender() throws {
        let t = try ChatTemplate("{{ messages[0].content | upper | trim }}{{ 1 + 2 + 3 + 4 + 5 }}{{ 'a' ~ 'b' ~ 'c' }}")
        XCTAssertEqual(try t.render(messages: [ChatMessage(role: "user", content: " hi ")], addGenerationPrompt: false,
                                    bosToken: "", eosToken: ""), "HI15abc")
        XCTAssertNoThrow(try ChatTemplate("{{ " + String(repeating: "1 + ", count: 150) + "1 }}"))
    }
}

/// A long template on one line (found by probing FuzzChatTemplate): each tag's location was
/// found by rescanning the line from its start, so 20 000 tags took minutes (quadratic); now
/// this test takes well under a second. Locations stay exact.
final class OneLineTemplateTests: XCTestCase {
    func testLongOneLineTemplateParsesQuickly() throws {
        let n = 20_000
        let source = String(repeating: "{% if true %}", count: n) + "x" + String(repeating: "{% endif %}", count: n)
        XCTAssertThrowsError(try ChatTemplate(source)) { error in   // blocks nest deeper than the parser allows
            guard case .syntax(_, let at)? = error as? ChatTemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(at.line, 1)
            XCTAssertGreaterThan(at.column, 13 * (TokenStream.maxDepth - 1), "\(at)")
        }
    }

    func testLocationsAfterMultibyteText() {
        XCTAssertThrowsError(try ChatTemplate("é🦜 {{ x }} {{ ) }}")) { error in
            guard case .syntax(_, let at)? = error as? ChatTemplateError else { return XCTFail("\(error)") }
            XCTAssertEqual(at, SourceLocation(line: 1, column: 15))
        }
    }
}
