// Lorikeet's built-in Gemma 3 template (`ModelLoader.gemmaChatTemplate`, for Gemma GGUFs that
// carry none) against google/gemma-3-*-it's own, as transformers renders it: every case of
// Tests/ChatTemplatesTests/Fixtures/gemma3.json whose messages all have string content. The
// built-in copy handles text only; list-of-parts content is checked against the verbatim
// template in ChatTemplatesTests.
import XCTest
import Foundation
import ChatTemplates
@testable import Llama

final class GemmaChatTemplateTests: XCTestCase {
    func testBuiltInTemplateMatchesTransformersOnStringContent() throws {
        let url = Fixtures.repoRoot.appendingPathComponent("Tests/ChatTemplatesTests/Fixtures/gemma3.json")
        guard case .dict(let fixture) = try TemplateValue(json: String(contentsOf: url, encoding: .utf8)),
            case .string(let bos)? = fixture["bos_token"], case .string(let eos)? = fixture["eos_token"],
            case .array(let cases)? = fixture["cases"]
        else { return XCTFail("malformed fixture \(url.path)") }
        let template = try ChatTemplate(ModelLoader.gemmaChatTemplate)
        var checked = 0, errors = 0
        for case .dict(let testCase) in cases {
            guard case .string(let name)? = testCase["name"], case .array(let messages)? = testCase["messages"],
                case .bool(let generationPrompt)? = testCase["add_generation_prompt"]
            else { return XCTFail("malformed case in \(url.path)") }
            let stringContent = messages.allSatisfy { message in
                if case .dict(let m) = message, case .string? = m["content"] { return true }
                return false
            }
            guard stringContent else { continue }
            let render = {
                try template.render(messages: messages, addGenerationPrompt: generationPrompt, bosToken: bos, eosToken: eos)
            }
            if case .string(let expected)? = testCase["expected"] {
                XCTAssertEqual(try render(), expected, name)
            } else if case .string(let message)? = testCase["expected_error"] {
                XCTAssertThrowsError(try render(), name) { error in
                    guard case ChatTemplateError.raised(let raised, _) = error else {
                        return XCTFail("\(name): expected raise_exception, got \(error)")
                    }
                    XCTAssertEqual(raised, message, name)
                }
                errors += 1
            }
            checked += 1
        }
        // The four conversations and assistant_last / unicode_whitespace, each with and without
        // the generation prompt, and three role-alternation errors.
        XCTAssertEqual(checked, 15)
        XCTAssertEqual(errors, 3)
    }
}
