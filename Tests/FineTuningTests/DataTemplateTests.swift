// Assistant-turn masks under the chat templates of the Llama family (the fixtures of the
// ChatTemplates tests: Llama 2/3.x, Mistral, Qwen2.x, TinyLlama, SmolLM2), with a tokenizer that
// gives each character one id and each special token one id, so every prefix tokenizes stably.
// The targets must be exactly what the model has to generate: each reply and its end-of-turn token.
import XCTest
import Foundation
import Tokenizers
import ChatTemplates
@testable import FineTuning

/// One id per Unicode scalar, plus one id (from 1) per listed special token, matched first.
struct DataSpecialCharTokenizer: Tokenizer {
    let specials: [String]
    let eos: String

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        var rest = Substring(text)
        outer: while let first = rest.unicodeScalars.first {
            for (i, s) in specials.enumerated() where rest.hasPrefix(s) {
                ids.append(i + 1)
                rest = rest.dropFirst(s.count)
                continue outer
            }
            ids.append(Int(first.value) + 1000)
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        return ids
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String { ids.compactMap(token).joined() }
    var vocabularySize: Int { 0x11_0000 + 1000 }
    var bosTokenID: Int? { nil }
    var eosTokenID: Int? { tokenID(eos) }
    func tokenID(_ token: String) -> Int? { specials.firstIndex(of: token).map { $0 + 1 } }
    func token(_ id: Int) -> String? {
        if id >= 1, id <= specials.count { return specials[id - 1] }
        return id >= 1000 ? Unicode.Scalar(UInt32(id - 1000)).map { String($0) } : nil
    }
}

final class DataTemplateTests: XCTestCase {
    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ChatTemplatesTests/Fixtures")

    private func targets(_ fixture: String, system: Bool, replies: (String, String) = ("A1", "A2")) throws -> String {
        let url = Self.folder.appendingPathComponent(fixture + ".json")
        guard let data = try? Data(contentsOf: url) else { throw XCTSkip("no template fixture at \(url.path)") }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let template = try ChatTemplate(try XCTUnwrap(json["template"] as? String))
        let bos = json["bos_token"] as? String ?? "", eos = json["eos_token"] as? String ?? ""
        let specials = [bos, eos, "<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                        "[INST]", "[/INST]", "<|user|>", "<|assistant|>", "<|system|>"].filter { !$0.isEmpty }
        var unique: [String] = []
        for s in specials where !unique.contains(s) { unique.append(s) }
        let tokenizer = DataSpecialCharTokenizer(specials: unique, eos: eos)
        let encoder = DatasetEncoder(tokenizer: tokenizer, chatTemplate: template, bosToken: bos, eosToken: eos)
        func reply(_ text: String) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["role": "assistant", "content": text]), as: UTF8.self)
        }
        var messages = [#"{"role": "user", "content": "Q1"}"#, try reply(replies.0),
                        #"{"role": "user", "content": "Q2"}"#, try reply(replies.1)]
        if system { messages.insert(#"{"role": "system", "content": "S"}"#, at: 0) }
        let e = try DataTestSupport.encode(#"{"messages": ["# + messages.joined(separator: ", ") + "]}", encoder)
        return tokenizer.decode(zip(e.tokens, e.targetMask).filter(\.1).map(\.0), skipSpecialTokens: false)
    }

    func testEveryAssistantReplyAndItsEndOfTurnAreTheTargets() throws {
        let expected: [(String, String)] = [
            ("llama2", " A1 </s> A2 </s>"), ("llama3", "A1<|eot_id|>A2<|eot_id|>"), ("llama3_1", "A1<|eot_id|>A2<|eot_id|>"),
            ("llama3_2", "A1<|eot_id|>A2<|eot_id|>"), ("mistral_v0_1", "A1</s>A2</s>"), ("mistral_v0_2", " A1</s> A2</s>"),
            ("mistral_v0_3", " A1</s> A2</s>"), ("qwen2", "A1<|im_end|>A2<|im_end|>"), ("qwen2_5", "A1<|im_end|>A2<|im_end|>"),
            ("smollm2", "A1<|im_end|>A2<|im_end|>"), ("tinyllama", "A1</s>A2</s>"),
        ]
        for (fixture, want) in expected {
            XCTAssertEqual(try targets(fixture, system: false), want, fixture)
            if fixture != "mistral_v0_1" && fixture != "mistral_v0_3" {  // see the next test
                XCTAssertEqual(try targets(fixture, system: true), want, fixture + " with a system message")
            }
        }
    }

    func testThinkingTemplatesTargetWhatTheFullConversationRenders() throws {
        // Qwen3 renders the reply after the last user turn with its (here empty) think block and
        // strips reasoning from earlier replies: the targets are the replies as the whole
        // conversation renders them — A1 without its reasoning, A2 with the think block it gets.
        let thought = "<think>\nAdd them.\n</think>\n\nA1"
        for system in [false, true] {
            XCTAssertEqual(try targets("qwen3", system: system), "A1<|im_end|><think>\n\n</think>\n\nA2<|im_end|>")
            XCTAssertEqual(try targets("qwen3", system: system, replies: (thought, "<think>\nThink.\n</think>\n\nA2")),
                           "A1<|im_end|><think>\nThink.\n</think>\n\nA2<|im_end|>")
            XCTAssertEqual(try targets("smollm3", system: system), "A1<|im_end|>A2<|im_end|>")
        }
    }

    func testTemplatesThatMoveTheSystemMessageAreLocatedByDifference() throws {
        // Mistral v0.3 puts the system text into the *last* user turn, so the prefix ending at A1
        // does not render as a prefix of the whole: A1 is found by emptying it and diffing
        // (the space the template writes before a reply is then not a target), A2 by its prefix.
        XCTAssertEqual(try targets("mistral_v0_3", system: true), "A1</s> A2</s>")
        // Mistral v0.1 refuses a system role: the template's own error is reported.
        XCTAssertThrowsError(try targets("mistral_v0_1", system: true)) { e in
            guard case .template(_, let detail)? = e as? DatasetError else { return XCTFail("\(e)") }
            XCTAssertTrue(detail.contains("alternate"), detail)
        }
    }
}
