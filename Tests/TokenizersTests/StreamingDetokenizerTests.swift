// The streaming detokenizer: fed one id at a time, its pieces must concatenate to the full decode,
// and it must hold back half-finished UTF-8 characters (byte-level tokens, byte-fallback tokens).
import Foundation
import XCTest
@testable import Tokenizers

final class StreamingDetokenizerTests: XCTestCase {
    private func streamed(_ tokenizer: any Tokenizer, _ ids: [Int], skip: Bool = false) -> (String, [String]) {
        var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
        var pieces = ids.map { stream.append($0) }
        pieces.append(stream.finish())
        return (pieces.joined(), pieces)
    }

    func testStreamEqualsFullDecode() throws {
        let corpus = try Fixtures.expected("smollm2").cases.map(\.text)
        let tokenizers = [try TokenizerLoader.load(folder: Fixtures.url("smollm2")),
                          try Fixtures.tokenizerJSON("spm_legacy.json"),
                          try Fixtures.tokenizerJSON("spm_metaspace.json")]
        for tokenizer in tokenizers {
            for text in corpus {
                let ids = tokenizer.encode(text, addSpecialTokens: true)
                for skip in [false, true] {
                    let full = tokenizer.decode(ids, skipSpecialTokens: skip)
                    XCTAssertEqual(Array(streamed(tokenizer, ids, skip: skip).0.utf8), Array(full.utf8), Fixtures.show(text))
                }
            }
        }
    }

    func testHoldsBackPartialCharacters() throws {
        let tokenizer = try Fixtures.tokenizerJSON("spm_legacy.json")
        let ids = tokenizer.encode("a𝄞", addSpecialTokens: false)   // U+1D11E falls back to 4 byte tokens
        XCTAssertEqual(ids.count, 5)
        let (text, pieces) = streamed(tokenizer, ids)
        XCTAssertEqual(text, "a𝄞")
        XCTAssertFalse(pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") })
        XCTAssertEqual(pieces.filter { !$0.isEmpty }.last, "𝄞")
    }
}
