// Golden tests: each fixture holds a model's real chat template and conversations rendered by
// transformers' apply_chat_template (scripts/make_chat_template_fixtures.py). We must match
// byte for byte, and raise the same raise_exception messages.

import Foundation
import XCTest

@testable import ChatTemplates

final class FixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Renders every case of `Fixtures/<name>.json` and compares with transformers' output.
    func checkFixture(_ name: String, minimumCases: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("\(name).json"), encoding: .utf8)
        guard case .dict(let fixture) = try TemplateValue(json: text),
            case .string(let bos)? = fixture["bos_token"], case .string(let eos)? = fixture["eos_token"],
            case .array(let cases)? = fixture["cases"]
        else { return XCTFail("malformed fixture \(name)", file: file, line: line) }
        XCTAssertGreaterThanOrEqual(cases.count, minimumCases, file: file, line: line)
        for case .dict(let testCase) in cases {
            // One template for the whole fixture, or one per case (the Jinja-semantics snippets).
            guard case .string(let source)? = testCase["template"] ?? fixture["template"] else {
                return XCTFail("fixture \(name) has no template", file: file, line: line)
            }
            let template = try ChatTemplate(source)
            guard case .string(let caseName)? = testCase["name"], case .array(let messages)? = testCase["messages"],
                case .bool(let addGenerationPrompt)? = testCase["add_generation_prompt"],
                case .dict(let extraDict)? = testCase["extra"]
            else { return XCTFail("malformed case in \(name)", file: file, line: line) }
            var tools: [TemplateValue]?
            if case .array(let list)? = testCase["tools"] { tools = list }
            let extra = Dictionary(uniqueKeysWithValues: extraDict.entries.map { ($0.key, $0.value) })
            let render = {
                try template.render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                    bosToken: bos, eosToken: eos, tools: tools, extra: extra)
            }
            if case .string(let expected)? = testCase["expected"] {
                XCTAssertEqual(try render(), expected, "\(name)/\(caseName)", file: file, line: line)
                // The same conversation through the ChatMessage API renders the same text.
                let chat = messages.compactMap(Self.chatMessage)
                XCTAssertEqual(chat.count, messages.count, file: file, line: line)
                let viaMessages = try template.render(messages: chat, addGenerationPrompt: addGenerationPrompt,
                                                      bosToken: bos, eosToken: eos, tools: tools, extra: extra)
                XCTAssertEqual(viaMessages, expected, "\(name)/\(caseName) via ChatMessage", file: file, line: line)
            } else if case .string(let message)? = testCase["expected_error"] {
                XCTAssertThrowsError(try render(), "\(name)/\(caseName)", file: file, line: line) { error in
                    guard case ChatTemplateError.raised(let raised, let location) = error else {
                        return XCTFail("\(name)/\(caseName): expected raise_exception, got \(error)", file: file, line: line)
                    }
                    XCTAssertEqual(raised, message, file: file, line: line)
                    XCTAssertGreaterThanOrEqual(location.line, 1, file: file, line: line)
                }
            } else {
                XCTFail("\(name)/\(caseName): no expected output", file: file, line: line)
            }
        }
    }

    /// A fixture message (a dict with a string role) as a ChatMessage.
    static func chatMessage(_ value: TemplateValue) -> ChatMessage? {
        guard case .dict(let dict) = value, case .string(let role)? = dict["role"] else { return nil }
        var fields = dict
        fields["role"] = nil
        fields["content"] = nil
        return ChatMessage(role: role, content: dict["content"], fields: fields)
    }

    /// Every fixture file on disk is exercised by one of the tests below.
    func testEveryFixtureFileIsCovered() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        XCTAssertEqual(names, ["gemma2", "gemma3", "jinja_semantics", "llama2", "llama3", "llama3_1", "llama3_2", "mistral_v0_1",
                               "mistral_v0_2", "mistral_v0_3", "phi3_5_mini", "phi4_mini", "qwen2", "qwen2_5", "qwen3",
                               "smollm2", "smollm3", "tinyllama"])
    }

    func testSmolLM2() throws { try checkFixture("smollm2", minimumCases: 8) }
    func testQwen3ThinkingOnAndOff() throws { try checkFixture("qwen3", minimumCases: 24) }
    func testSmolLM3ThinkingOnAndOff() throws { try checkFixture("smollm3", minimumCases: 20) }
    func testLlama2() throws { try checkFixture("llama2", minimumCases: 9) }
    func testLlama3() throws { try checkFixture("llama3", minimumCases: 8) }
    func testLlama31WithTools() throws { try checkFixture("llama3_1", minimumCases: 17) }
    func testLlama32WithTools() throws { try checkFixture("llama3_2", minimumCases: 12) }
    func testMistralV01() throws { try checkFixture("mistral_v0_1", minimumCases: 6) }
    func testMistralV02() throws { try checkFixture("mistral_v0_2", minimumCases: 10) }
    func testMistralV03WithTools() throws { try checkFixture("mistral_v0_3", minimumCases: 12) }
    func testQwen2() throws { try checkFixture("qwen2", minimumCases: 8) }
    func testQwen25WithTools() throws { try checkFixture("qwen2_5", minimumCases: 12) }
    func testTinyLlama() throws { try checkFixture("tinyllama", minimumCases: 8) }
    func testGemma2() throws { try checkFixture("gemma2", minimumCases: 10) }
    func testGemma3WithContentParts() throws { try checkFixture("gemma3", minimumCases: 26) }
    func testPhi35Mini() throws { try checkFixture("phi3_5_mini", minimumCases: 14) }
    func testPhi4MiniWithTools() throws { try checkFixture("phi4_mini", minimumCases: 14) }
    func testJinjaSemanticsSnippets() throws { try checkFixture("jinja_semantics", minimumCases: 32) }

    /// The fixture tests must be able to fail: a changed expectation is caught.
    func testFixtureComparisonDetectsADifference() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("smollm2.json"), encoding: .utf8)
        guard case .dict(let fixture) = try TemplateValue(json: text), case .string(let source)? = fixture["template"] else {
            return XCTFail("malformed fixture")
        }
        let rendered = try ChatTemplate(source).render(
            messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true,
            bosToken: "<|im_start|>", eosToken: "<|im_end|>")
        XCTAssertEqual(rendered, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
            + "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertNotEqual(rendered, "<|im_start|>user\nHi<|im_end|>\n")
    }
}
