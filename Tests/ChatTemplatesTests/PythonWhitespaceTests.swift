// Python's idea of whitespace, which differs from Unicode's White_Space: str.strip/split/isspace
// (and jinja's trim, which Gemma applies to every turn) also count U+001C…U+001F; int() and
// float() strip newlines too. Expected strings come from jinja2 3.1.6.

import XCTest

@testable import ChatTemplates

final class PythonWhitespaceTests: XCTestCase {
    func testStripSplitAndIsspaceCountTheInformationSeparators() throws {
        let template = try ChatTemplate(
            "{{ s | trim }}|{{ s.strip() }}|{{ s.split() }}|{{ '\u{1C}\u{1F}'.isspace() }}|{{ '\u{200B}'.isspace() }}")
        let rendered = try template.render(context: ["s": .string("\u{1F}\u{3000}a b\u{1C}c\u{A0}\u{1E}")])
        XCTAssertEqual(rendered, "a b\u{1C}c|a b\u{1C}c|['a', 'b', 'c']|True|False")
    }

    func testIntAndFloatFiltersStripNewlinesButNotSeparators() throws {
        let template = try ChatTemplate("{{ s | int }} {{ s | float }} {{ '\u{1F}7' | int }}")
        XCTAssertEqual(try template.render(context: ["s": .string("\n7\t\r\n")]), "7 7.0 0")
    }
}
