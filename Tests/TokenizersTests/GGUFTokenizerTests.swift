// Tokenizers built from GGUF metadata: SmolLM2's real metadata (model gpt2, pre "smollm") must give
// the same ids as its tokenizer.json; malformed metadata must throw errors that name the key.
import Foundation
import XCTest
@testable import Tokenizers

final class GGUFTokenizerTests: XCTestCase {
    func testSmolLM2FromGGUFMatchesReference() throws {
        let data = try Fixtures.gguf("smollm2_gguf.json")
        XCTAssertEqual(data.model, "gpt2")
        XCTAssertEqual(data.pre, "smollm")
        let tokenizer = try TokenizerLoader.load(gguf: data)
        assertMatchesReference(tokenizer, try Fixtures.expected("smollm2"))
        XCTAssertEqual(tokenizer.bosTokenID, 1)
        XCTAssertEqual(tokenizer.eosTokenID, 2)
        XCTAssertEqual(tokenizer.vocabularySize, 49152)
    }

    func testUnknownPreTokenizerIsRejectedByName() throws {
        var data = try Fixtures.gguf("smollm2_gguf.json")
        data.pre = "made-up"
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: data)) { error in
            guard case TokenizerError.unsupported(_, let component, let detail) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(component, "tokenizer.ggml.pre")
            XCTAssertTrue(detail.contains("made-up"))
        }
    }

    func testMalformedMetadataThrows() throws {
        let tokens = ["a", "b", "ab"]
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "gpt2", tokens: tokens, merges: ["a b c"]))) {
            guard case TokenizerError.invalidMerge(_, 0, "a b c", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "gpt2", tokens: tokens, merges: ["a x"]))) {
            guard case TokenizerError.invalidMerge(_, 0, _, let reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("x"))
        }
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "llama", tokens: tokens, scores: [0]))) {
            guard case TokenizerError.invalidGGUF("tokenizer.ggml.scores", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "gpt2", tokens: tokens, merges: [], bosTokenID: 7))) {
            guard case TokenizerError.invalidGGUF("tokenizer.ggml.bos_token_id", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "bert", tokens: tokens))) {
            guard case TokenizerError.unsupported(_, "tokenizer.ggml.model", _) = $0 else { return XCTFail("\($0)") }
        }
    }
}
