// Byte-level BPE against Hugging Face `tokenizers`: SmolLM2's real vocabulary (tokenizer.json with
// Digits + ByteLevel), and small vocabularies trained with the GPT-2, Llama 3 and Qwen2 split regexes.
// Also the byte-level round trip decode(encode(x)) == x over the whole corpus. Added tokens with
// lstrip / rstrip / single_word, and a normalized one, ride along in bpe_gpt2 and bpe_qwen2.
import Foundation
import XCTest
@testable import Tokenizers

final class ByteLevelBPETests: XCTestCase {
    func testSmolLM2FolderMatchesReference() throws {
        let tokenizer = try TokenizerLoader.load(folder: Fixtures.url("smollm2"))
        assertMatchesReference(tokenizer, try Fixtures.expected("smollm2"))
        XCTAssertEqual(tokenizer.vocabularySize, 49152)
        XCTAssertEqual(tokenizer.bosTokenID, 1)   // tokenizer_config.json: bos_token <|im_start|>
        XCTAssertEqual(tokenizer.eosTokenID, 2)   // eos_token <|im_end|>
        XCTAssertEqual(tokenizer.tokenID("<|im_end|>"), 2)
        XCTAssertEqual(tokenizer.token(2), "<|im_end|>")
        XCTAssertNil(tokenizer.token(49152))
        XCTAssertEqual(tokenizer.tokenID("Ġthe").flatMap(tokenizer.token), "Ġthe")
    }

    func testSmolLM2SplitsDigits() throws {
        let tokenizer = try TokenizerLoader.load(folder: Fixtures.url("smollm2"))
        let ids = tokenizer.encode("2024", addSpecialTokens: false)
        XCTAssertEqual(ids.map { tokenizer.token($0) ?? "?" }, ["2", "0", "2", "4"])
    }

    func testGPT2PatternWithStringMergesMatchesReference() throws {
        assertMatchesReference(try Fixtures.tokenizerJSON("bpe_gpt2.json"), try Fixtures.expected("bpe_gpt2"))
    }

    func testLlama3PatternMatchesReference() throws {
        let tokenizer = try Fixtures.tokenizerJSON("bpe_llama3.json")
        assertMatchesReference(tokenizer, try Fixtures.expected("bpe_llama3"))
        XCTAssertEqual(tokenizer.bosTokenID, 0)   // from the TemplateProcessing prefix
        XCTAssertEqual(tokenizer.encode("hi", addSpecialTokens: true).first, 0)
    }

    func testQwen2PatternWithNFCMatchesReference() throws {
        assertMatchesReference(try Fixtures.tokenizerJSON("bpe_qwen2.json"), try Fixtures.expected("bpe_qwen2"))
    }

    func testRoundTripIsExact() throws {
        let corpus = try Fixtures.expected("smollm2").cases.map(\.text)
        for name in ["bpe_gpt2.json", "bpe_llama3.json"] {
            let tokenizer = try Fixtures.tokenizerJSON(name)
            // bpe_gpt2's "<mask>" (lstrip) and "[R]" (rstrip) swallow the spaces beside them by design.
            for text in corpus where !text.contains("<mask>") && !text.contains("[R]") {
                let back = tokenizer.decode(tokenizer.encode(text, addSpecialTokens: false), skipSpecialTokens: false)
                XCTAssertEqual(Array(back.utf8), Array(text.utf8), "\(name): \(Fixtures.show(text))")
            }
        }
        let smol = try TokenizerLoader.load(folder: Fixtures.url("smollm2"))
        for text in corpus {
            let back = smol.decode(smol.encode(text, addSpecialTokens: true), skipSpecialTokens: false)
            XCTAssertEqual(Array(back.utf8), Array(text.utf8), "smollm2: \(Fixtures.show(text))")
        }
    }

    func testSplitPatternsOnHandCheckedText() {
        func pieces(_ pattern: SplitPattern, _ text: String) -> [String] {
            var out = [Piece]()
            PreTokenizerStep.splitWith(pattern, Piece(text: Substring(text), atStart: true), into: &out)
            return out.map { String($0.text) }
        }
        XCTAssertEqual(pieces(.gpt2, "Hello  world's 123\n\nx"), ["Hello", " ", " world", "'s", " 123", "\n", "\n", "x"])
        XCTAssertEqual(pieces(.llama3, "I'LL pay 12345 now!\n\n  ok"), ["I", "'LL", " pay", " ", "123", "45", " now", "!\n\n", " ", " ok"])
        XCTAssertEqual(pieces(.qwen2, "ab12\tc  \n d"), ["ab", "1", "2", "\tc", "  \n", " d"])
    }
}
