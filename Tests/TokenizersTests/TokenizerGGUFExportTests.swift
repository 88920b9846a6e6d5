// The other direction: a tokenizer.json (+ tokenizer_config.json) written as GGUF tokenizer
// metadata (for `lorikeet quantize/merge --format gguf` from a folder) must load back as a
// tokenizer giving the reference ids on the whole corpus, and for SmolLM2 carry what
// llama.cpp's converter wrote into the real GGUF: pre "smollm", token types, BOS/EOS.
import Foundation
import XCTest
@testable import Tokenizers

final class TokenizerGGUFExportTests: XCTestCase {
    func converted(_ file: String, config: String? = nil, vocabularySize: Int = 0) throws -> GGUFTokenizerData {
        try TokenizerExport.ggufData(tokenizerJSON: Data(contentsOf: Fixtures.url(file)),
                                     config: try config.map { try Data(contentsOf: Fixtures.url($0)) },
                                     chatTemplate: nil, vocabularySize: vocabularySize, fileName: file)
    }

    func testSmolLM2FolderGivesTheGGUFsMetadata() throws {
        let data = try converted("smollm2/tokenizer.json", config: "smollm2/tokenizer_config.json")
        let real = try Fixtures.gguf("smollm2_gguf.json")
        XCTAssertEqual(data.model, "gpt2")
        XCTAssertEqual(data.pre, "smollm")
        XCTAssertEqual(data.tokens, real.tokens)
        XCTAssertEqual(data.merges, real.merges)
        XCTAssertEqual(data.tokenTypes, real.tokenTypes)
        XCTAssertEqual(data.bosTokenID, real.bosTokenID)
        XCTAssertEqual(data.eosTokenID, real.eosTokenID)
        assertMatchesReference(try TokenizerLoader.load(gguf: data), try Fixtures.expected("smollm2"))
    }

    func testLlama3AndQwen2PreTokenizersAreNamed() throws {
        let llama3 = try converted("bpe_llama3.json")
        XCTAssertEqual(llama3.pre, "llama-bpe")
        assertMatchesReference(try TokenizerLoader.load(gguf: llama3), try Fixtures.expected("bpe_llama3"))
        let qwen2 = try converted("bpe_qwen2.json")
        XCTAssertEqual(qwen2.pre, "qwen2")
        var reference = try Fixtures.expected("bpe_qwen2")
        // GGUF has no normalizer: Qwen2's NFC is dropped (as by llama.cpp's converter), so text not already in NFC
        // tokenizes differently there; every other line must match.
        let before = reference.cases.count
        reference.cases.removeAll { $0.text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual($0.text.unicodeScalars) == false }
        XCTAssertLessThan(before - reference.cases.count, before / 4)
        assertMatchesReference(try TokenizerLoader.load(gguf: qwen2), reference)
    }

    func testVocabularyIsPaddedToTheModelsSize() throws {
        let data = try converted("bpe_llama3.json", vocabularySize: 2000)
        XCTAssertEqual(data.tokens.count, 2000)
        XCTAssertEqual(data.tokens.last, "[PAD1999]")
        XCTAssertEqual(data.tokenTypes?.last, GGUFTokenType.unused)
    }

    func testSentencePieceTokenizersAreRefusedByName() {
        XCTAssertThrowsError(try converted("spm_metaspace.json")) { e in
            XCTAssertTrue("\(e)".contains("spm_metaspace.json"), "\(e)")
            XCTAssertTrue("\(e)".contains("pre_tokenizer") || "\(e)".contains("normalizer"), "\(e)")
        }
    }
}
