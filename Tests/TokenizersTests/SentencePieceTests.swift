// SentencePiece-style BPE with byte fallback against the real libraries: a vocabulary trained with
// sentencepiece as Llama 2's was, loaded as Llama 2's tokenizer.json layout (Prepend + Replace
// normalizer), as the Metaspace layout, and from GGUF-style pieces + scores (llama.cpp's algorithm).
import Foundation
import XCTest
@testable import Tokenizers

final class SentencePieceTests: XCTestCase {
    func testLegacyLayoutMatchesReference() throws {
        let tokenizer = try Fixtures.tokenizerJSON("spm_legacy.json")
        assertMatchesReference(tokenizer, try Fixtures.expected("spm_legacy"))
        XCTAssertEqual(tokenizer.bosTokenID, 1)
        XCTAssertEqual(tokenizer.encode("", addSpecialTokens: true), [1])
    }

    func testMetaspaceLayoutMatchesReference() throws {
        assertMatchesReference(try Fixtures.tokenizerJSON("spm_metaspace.json"), try Fixtures.expected("spm_metaspace"))
    }

    func testByteFallbackSpellsUnknownCharacters() throws {
        let tokenizer = try Fixtures.tokenizerJSON("spm_legacy.json")
        let ids = tokenizer.encode("𝄞", addSpecialTokens: false)   // U+1D11E, absent from the training text
        let spelled = ids.compactMap { tokenizer.token($0) }
        XCTAssertEqual(spelled.suffix(4), ["<0xF0>", "<0x9D>", "<0x84>", "<0x9E>"])
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), "𝄞")
    }

    func testGGUFScoresMatchLegacyReferenceAndSentencePiece() throws {
        let tokenizer = try TokenizerLoader.load(gguf: try Fixtures.gguf("spm_gguf.json"))
        let reference = try Fixtures.expected("spm_legacy")
        assertMatchesReference(tokenizer, reference)
        var compared = 0
        for c in reference.cases {
            guard let spm = c.sentencepieceIDs, !c.text.contains("<s>"), !c.text.contains("</s>"),
                  !c.text.contains("<unk>") else { continue }
            XCTAssertEqual(tokenizer.encode(c.text, addSpecialTokens: false), spm, "sentencepiece: \(Fixtures.show(c.text))")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 20)
        XCTAssertEqual(tokenizer.vocabularySize, 1000)
    }
}
