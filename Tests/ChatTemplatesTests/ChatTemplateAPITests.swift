// The public surface beyond golden rendering: ChatMessage conversion, order-keeping JSON,
// tokenizer_config.json loading, and strftime_now (Llama 3.2 prints today's date).

import Foundation
import XCTest

@testable import ChatTemplates

final class ChatTemplateAPITests: XCTestCase {
    func testChatMessageBecomesOrderedDictionary() {
        let call: TemplateValue = ["function": ["name": "f", "arguments": ["b": 1, "a": 2]]]
        let message = ChatMessage(role: "assistant", content: nil, fields: ["tool_calls": [call]])
        XCTAssertEqual(message.templateValue, ["role": "assistant", "tool_calls": [call]])
        guard case .dict(let dict) = message.templateValue else { return XCTFail() }
        XCTAssertEqual(dict.keys, ["role", "tool_calls"])
    }

    /// transformers drops a message's None-valued keys before rendering (OpenAI-style
    /// `content: null`), so a template sees undefined there, not none; other messages keep theirs.
    func testNoneValuedMessageKeysAreDropped() throws {
        let template = try ChatTemplate(
            "{% for m in messages %}{{ m.content is defined }} {{ m | length }} {{ m.tool_calls is none }};{% endfor %}{{ extra is none }}")
        let messages: [TemplateValue] = [["role": "assistant", "content": .none, "tool_calls": .none],
                                         ["role": "user", "content": "hi"]]
        XCTAssertEqual(try template.render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: "",
                                           extra: ["extra": .none]),
                       "False 1 False;True 2 False;True")
        let viaChatMessage = try template.render(messages: [ChatMessage(role: "user", content: TemplateValue.none)],
                                                 addGenerationPrompt: false, bosToken: "", eosToken: "")
        XCTAssertEqual(viaChatMessage, "False 1 False;False")
    }

    func testJSONKeepsKeyOrderAndRoundTripsThroughToJSON() throws {
        let text = #"{"z": 1, "a": [true, null, 2.5, "é\n"], "m": {"y": -3, "b": {}}}"#
        let value = try TemplateValue(json: text)
        guard case .dict(let dict) = value else { return XCTFail() }
        XCTAssertEqual(dict.keys, ["z", "a", "m"])
        let rendered = try ChatTemplate("{{ v | tojson }}").render(context: ["v": value])
        XCTAssertEqual(rendered, #"{"z": 1, "a": [true, null, 2.5, "é\n"], "m": {"y": -3, "b": {}}}"#)
        XCTAssertThrowsError(try TemplateValue(json: #"{"a": }"#)) { error in
            XCTAssertTrue(error is TemplateJSONError)
        }
    }

    func testTokenizerConfigStringAndNamedTemplates() throws {
        let plain = #"{"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}, "chat_template": "{{ bos_token }}{{ messages[0].content }}"}"#
        let loaded = try ChatTemplate.fromTokenizerConfig(json: plain)
        XCTAssertEqual(loaded.bosToken, "<s>")
        XCTAssertEqual(loaded.eosToken, "</s>")
        let text = try loaded.template?.render(messages: [ChatMessage(role: "user", content: "hi")],
                                               addGenerationPrompt: false, bosToken: "<s>", eosToken: "</s>")
        XCTAssertEqual(text, "<s>hi")

        let named = #"{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]}"#
        XCTAssertEqual(try ChatTemplate.fromTokenizerConfig(json: named).template?.source, "D")
        XCTAssertEqual(try ChatTemplate.fromTokenizerConfig(json: named, name: "tool_use").template?.source, "T")
        XCTAssertNil(try ChatTemplate.fromTokenizerConfig(json: "{}").template)
    }

    func testStrftimeDirectives() {
        let date = Date(timeIntervalSince1970: 1_741_168_800)  // 2025-03-05 10:00:00 UTC, a Wednesday
        let utc = TimeZone(identifier: "UTC")!
        XCTAssertEqual(Strftime.format("%d %b %Y", date: date, timeZone: utc), "05 Mar 2025")
        XCTAssertEqual(Strftime.format("%A %B %-d %H:%M:%S %p %j %y %%", date: date, timeZone: utc),
                       "Wednesday March 5 10:00:00 AM 064 25 %")
        XCTAssertEqual(Strftime.format("%e|%I%p|%F|%Q", date: date, timeZone: utc), " 5|10AM|2025-03-05|%Q")
    }

    func testStrftimeNowFillsLlama32Date() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/llama3_2.json")
        guard case .dict(let fixture) = try TemplateValue(json: String(contentsOf: url, encoding: .utf8)),
            case .string(let source)? = fixture["template"]
        else { return XCTFail("malformed fixture") }
        let template = try ChatTemplate(source)
        let now = Date(timeIntervalSince1970: 1_741_168_800)
        let context: [String: TemplateValue] = [
            "messages": [["role": "user", "content": "Hi"]], "bos_token": "<|begin_of_text|>",
            "add_generation_prompt": true, "tools": nil,
        ]
        let text = try template.render(context: context, now: now)
        XCTAssertTrue(text.contains("Today Date: \(Strftime.format("%d %b %Y", date: now))\n"), text)
        // With the real clock it prints today's date in the same format (either side of midnight).
        let before = Strftime.format("%d %b %Y", date: Date())
        let today = try template.render(context: context)
        let after = Strftime.format("%d %b %Y", date: Date())
        XCTAssertTrue(today.contains("Today Date: \(before)\n") || today.contains("Today Date: \(after)\n"), today)
    }

    func testRenderIsRepeatableAndNamespacesDoNotLeakBetweenRenders() throws {
        let template = try ChatTemplate("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}")
        let messages = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "assistant", content: "b")]
        for _ in 0..<2 {
            XCTAssertEqual(try template.render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: ""), "2")
        }
    }
}
