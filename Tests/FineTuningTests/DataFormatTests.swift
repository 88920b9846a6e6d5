// Token ids and loss masks of each record format, with SmolLM2's real tokenizer and ChatML
// template. Expected ids are built piece by piece (special tokens and plain text encoded
// apart), so a mask that slips by one token, or covers the "\n" after <|im_end|>, fails.
import XCTest
import Tokenizers
import ChatTemplates
import Llama
@testable import FineTuning

final class DataFormatTests: XCTestCase {
    /// Encodes each piece apart and concatenates; `true` pieces are targets.
    private func expected(_ pieces: [(String, Bool)], _ tokenizer: any Tokenizer) -> TokenizedExample {
        var tokens: [Int] = [], mask: [Bool] = []
        for (text, target) in pieces {
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            tokens += ids
            mask += Array(repeating: target, count: ids.count)
        }
        return TokenizedExample(tokens: tokens, targetMask: mask)
    }

    private func targetText(_ e: TokenizedExample, _ tokenizer: any Tokenizer) -> String {
        tokenizer.decode(zip(e.tokens, e.targetMask).filter(\.1).map(\.0), skipSpecialTokens: false)
    }

    func testTextTargetsEveryTokenAfterTheFirstAndEndsWithEOS() throws {
        let m = try DataTestSupport.smolLM2()
        let e = try DataTestSupport.encode(#"{"text": "Hello world, this is text."}"#, DataTestSupport.smolEncoder())
        let eos = try XCTUnwrap(m.tokenizer.eosTokenID)
        XCTAssertEqual(e.tokens, m.tokenizer.encode("Hello world, this is text.", addSpecialTokens: true) + [eos])
        XCTAssertEqual(e.targetMask, [false] + Array(repeating: true, count: e.count - 1))
    }

    func testPromptCompletionTargetsOnlyTheCompletionAndEOS() throws {
        let m = try DataTestSupport.smolLM2()
        let line = #"{"prompt": "The capital of France is", "completion": " Paris."}"#
        let e = try DataTestSupport.encode(line, DataTestSupport.smolEncoder())
        let prompt = m.tokenizer.encode("The capital of France is", addSpecialTokens: true)
        let eos = try XCTUnwrap(m.tokenizer.eosTokenID)
        XCTAssertEqual(e.tokens, m.tokenizer.encode("The capital of France is Paris.", addSpecialTokens: true) + [eos])
        XCTAssertEqual(e.targetMask, prompt.map { _ in false } + Array(repeating: true, count: e.count - prompt.count))
        XCTAssertEqual(targetText(e, m.tokenizer), " Paris.<|im_end|>")

        let all = try DataTestSupport.encode(line, DataTestSupport.smolEncoder(trainOnInputs: true))
        XCTAssertEqual(all.tokens, e.tokens)
        XCTAssertEqual(all.targetMask, [false] + Array(repeating: true, count: e.count - 1))
    }

    func testChatMLMaskCoversExactlyAssistantContentsAndImEnd() throws {
        let m = try DataTestSupport.smolLM2()
        let line = #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, "#
            + #"{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "More?"}, "#
            + #"{"role": "assistant", "content": "Sure, here it is."}]}"#
        let e = try DataTestSupport.encode(line, DataTestSupport.smolEncoder())
        let want = expected([
            ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", false),
            ("Hello!", true), ("<|im_end|>", true),
            ("\n<|im_start|>user\nMore?<|im_end|>\n<|im_start|>assistant\n", false),
            ("Sure, here it is.", true), ("<|im_end|>", true), ("\n", false),
        ], m.tokenizer)
        XCTAssertEqual(e.tokens, want.tokens)
        XCTAssertEqual(e.targetMask, want.targetMask)
        XCTAssertEqual(targetText(e, m.tokenizer), "Hello!<|im_end|>Sure, here it is.<|im_end|>")
    }

    func testTemplateDefaultSystemPromptIsNotATarget() throws {
        // SmolLM2's template inserts its own system message when the conversation has none.
        let m = try DataTestSupport.smolLM2()
        let line = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hi there"}]}"#
        let e = try DataTestSupport.encode(line, DataTestSupport.smolEncoder())
        XCTAssertTrue(m.tokenizer.decode(e.tokens, skipSpecialTokens: false).contains("SmolLM"))
        XCTAssertEqual(targetText(e, m.tokenizer), "Hi there<|im_end|>")

        let all = try DataTestSupport.encode(line, DataTestSupport.smolEncoder(trainOnInputs: true))
        XCTAssertEqual(all.tokens, e.tokens)
        XCTAssertEqual(all.targetCount, e.count - 1)
    }

    func testAlpacaWithTemplateIsAUserAssistantConversation() throws {
        let encoder = try DataTestSupport.smolEncoder()
        let alpaca = try DataTestSupport.encode(#"{"instruction": "Add.", "input": "2 and 3", "output": "5"}"#, encoder)
        let chat = try DataTestSupport.encode(#"{"messages": [{"role": "user", "content": "Add.\n\n2 and 3"}, "#
            + #"{"role": "assistant", "content": "5"}]}"#, encoder)
        XCTAssertEqual(alpaca, chat)
        let noInput = try DataTestSupport.encode(#"{"instruction": "Say yes.", "input": "", "output": "Yes."}"#, encoder)
        let chat2 = try DataTestSupport.encode(#"{"messages": [{"role": "user", "content": "Say yes."}, "#
            + #"{"role": "assistant", "content": "Yes."}]}"#, encoder)
        XCTAssertEqual(noInput, chat2)
    }

    func testAlpacaWithoutTemplateUsesTheAlpacaPrompt() throws {
        let m = try DataTestSupport.smolLM2()
        let encoder = try DataTestSupport.smolEncoder(template: false)
        let e = try DataTestSupport.encode(#"{"instruction": "Add.", "input": "2 and 3", "output": "5"}"#, encoder)
        let prompt = DatasetEncoder.alpacaPrompt(instruction: "Add.", input: "2 and 3")
        XCTAssertTrue(prompt.hasSuffix("### Input:\n2 and 3\n\n### Response:\n"))
        let eos = try XCTUnwrap(m.tokenizer.eosTokenID)
        XCTAssertEqual(e.tokens, m.tokenizer.encode(prompt + "5", addSpecialTokens: true) + [eos])
        XCTAssertEqual(targetText(e, m.tokenizer), "5<|im_end|>")
    }

    func testConversationalPromptCompletionTargetsOnlyTheCompletionTurns() throws {
        let m = try DataTestSupport.smolLM2()
        let line = #"{"prompt": [{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"}, "#
            + #"{"role": "user", "content": "C"}], "completion": [{"role": "assistant", "content": "D"}]}"#
        let e = try DataTestSupport.encode(line, DataTestSupport.smolEncoder())
        XCTAssertEqual(targetText(e, m.tokenizer), "D<|im_end|>")
    }

    func testMessagesWithoutTemplateFallBackToChatMLAndEndTurnsWithEOS() throws {
        // DataCharTokenizer has no <|im_end|> token, so the turn is closed with EOS, a target.
        let e = try DataTestSupport.encode(#"{"messages": [{"role": "user", "content": "u"}, "#
            + #"{"role": "assistant", "content": "ab"}]}"#, .characters())
        let text = "<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\nab<|im_end|>\n"
        XCTAssertEqual(e.tokens, DataCharTokenizer().encode(text, addSpecialTokens: false) + [3])
        let targets = zip(e.tokens, e.targetMask).filter(\.1).map(\.0)
        XCTAssertEqual(DataCharTokenizer().decode(targets, skipSpecialTokens: false), "ab<|im_end|>\n</s>")
    }

    func testLoadsEverySplitOfAFolderWithMixedFormats() throws {
        let m = try DataTestSupport.smolLM2()
        let splits = try DatasetSplits.load(path: DataTestSupport.fixture("mixed"), model: m)
        XCTAssertEqual(splits.train.examples.count, 5)
        XCTAssertEqual(splits.valid?.examples.count, 2)  // CRLF line ends
        XCTAssertNil(splits.test)
        XCTAssertEqual(splits.train.stats.examples, 5)
        XCTAssertEqual(splits.train.stats.tokens, splits.train.examples.reduce(0) { $0 + $1.count })
        XCTAssertEqual(splits.train.stats.targetTokens, splits.train.examples.reduce(0) { $0 + $1.targetCount })
        XCTAssertEqual(splits.train.stats.truncated, 0)
        XCTAssertEqual(targetText(splits.train.examples[2], m.tokenizer), "Hello!<|im_end|>")
        XCTAssertEqual(targetText(splits.train.examples[3], m.tokenizer), "5<|im_end|>")

        let train = try Dataset.load(path: DataTestSupport.fixture("mixed/train.jsonl"), model: m)
        XCTAssertEqual(train.examples, splits.train.examples)
    }
}
