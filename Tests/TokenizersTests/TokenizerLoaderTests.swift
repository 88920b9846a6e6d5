// Loading errors and configuration: bad or unsupported tokenizer.json content must throw a
// TokenizerError that names the file and the offending component; tokenizer_config.json flags apply.
import Foundation
import XCTest
@testable import Tokenizers

final class TokenizerLoaderTests: XCTestCase {
    private func json(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

    private func tinyModel(merges: Any = ["a b"]) -> [String: Any] {
        ["type": "BPE", "vocab": ["a": 0, "b": 1, "ab": 2, "<s>": 3], "merges": merges]
    }

    func testTinyTokenizerBothMergeForms() throws {
        for merges in [["a b"], [["a", "b"]]] as [Any] {
            let t = try TokenizerLoader.load(tokenizerJSON: json(["model": tinyModel(merges: merges),
                                                                  "pre_tokenizer": NSNull()]))
            XCTAssertEqual(t.encode("abab", addSpecialTokens: false), [2, 2])
            XCTAssertEqual(t.decode([2, 0]), "ab a")   // no decoder: tokens joined by spaces, as in `tokenizers`
        }
    }

    /// Expected ids checked with `tokenizers` 0.23: a whole word in the vocabulary skips the merges,
    /// and a character missing from the vocabulary (no unk_token) is dropped.
    func testIgnoreMerges() throws {
        for (ignore, expected) in [(false, [0, 3]), (true, [4])] {
            let model: [String: Any] = ["type": "BPE", "vocab": ["a": 0, "b": 1, "c": 2, "bc": 3, "abc": 4],
                                        "merges": ["b c"], "ignore_merges": ignore]
            let t = try TokenizerLoader.load(tokenizerJSON: json(["model": model]))
            XCTAssertEqual(t.encode("abc", addSpecialTokens: false), expected)
            XCTAssertEqual(t.encode("abcx", addSpecialTokens: false), [0, 3])
        }
    }

    /// "é" and "e\u{301}" are equal as Swift Strings but are different tokens.
    func testCanonicallyEquivalentTokensStayDistinct() throws {
        let spec = #"{"model": {"type": "BPE", "vocab": {"\u00e9": 0, "e\u0301": 1, "e": 2, "\u0301": 3, "\u00c5": 4},"#
            + #" "merges": [["e", "\u0301"]]}}"#
        let t = try TokenizerLoader.load(tokenizerJSON: Data(spec.utf8))
        XCTAssertEqual(t.encode("\u{e9}", addSpecialTokens: false), [0])
        XCTAssertEqual(t.encode("e\u{301}", addSpecialTokens: false), [1])
        XCTAssertEqual(t.encode("\u{212B}", addSpecialTokens: false), [])   // ANGSTROM SIGN is not "Å" (dropped: no unk)
        XCTAssertEqual(t.tokenID("e\u{301}"), 1)
        XCTAssertEqual(t.tokenID("\u{e9}"), 0)
        XCTAssertEqual(t.token(1).map { Array($0.unicodeScalars) }, ["e", "\u{301}"])
    }

    func testConfigFlagsAddBOSAndEOS() throws {
        let spec = try json(["model": tinyModel(), "added_tokens": [["id": 3, "content": "<s>", "special": true]]])
        let config = try json(["add_bos_token": true, "add_eos_token": true, "bos_token": "<s>",
                               "eos_token": ["content": "<s>", "lstrip": false]])
        let t = try TokenizerLoader.load(tokenizerJSON: spec, config: config)
        XCTAssertEqual(t.encode("ab", addSpecialTokens: true), [3, 2, 3])
        XCTAssertEqual(t.encode("a<s>b", addSpecialTokens: false), [0, 3, 1])
        XCTAssertEqual(t.decode([3, 2, 3], skipSpecialTokens: true), "ab")
    }

    func testUnsupportedComponentsAreNamed() throws {
        let cases: [(String, [String: Any], String)] = [
            ("model", ["model": ["type": "WordPiece", "vocab": ["a": 0]]], "WordPiece"),
            ("pre_tokenizer", ["model": tinyModel(), "pre_tokenizer": ["type": "Split", "pattern": ["Regex": "\\w+"],
                                                                        "behavior": "Isolated", "invert": false]], "\\w+"),
            ("normalizer", ["model": tinyModel(), "normalizer": ["type": "Lowercase"]], "Lowercase"),
            ("decoder", ["model": tinyModel(), "decoder": ["type": "WordPiece"]], "WordPiece"),
            ("post_processor", ["model": tinyModel(), "post_processor": ["type": "BertProcessing"]], "BertProcessing"),
        ]
        for (component, object, detailPart) in cases {
            XCTAssertThrowsError(try TokenizerLoader.load(tokenizerJSON: json(object), fileName: "m/tokenizer.json")) { error in
                guard case TokenizerError.unsupported(let file, let c, let detail) = error else {
                    return XCTFail("\(component): unexpected \(error)")
                }
                XCTAssertEqual(file, "m/tokenizer.json")
                XCTAssertEqual(c, component)
                XCTAssertTrue(detail.contains(detailPart), detail)
            }
        }
    }

    func testBadFilesThrowNamedErrors() throws {
        XCTAssertThrowsError(try TokenizerLoader.load(folder: URL(fileURLWithPath: "/nonexistent-folder"))) {
            guard case TokenizerError.fileNotFound(let path) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(path.hasSuffix("tokenizer.json"))
        }
        XCTAssertThrowsError(try TokenizerLoader.load(tokenizerJSON: Data("{\"model\": 3}".utf8))) {
            guard case TokenizerError.invalidJSON(_, let detail) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("model"), detail)
        }
        XCTAssertThrowsError(try TokenizerLoader.load(tokenizerJSON: json(["model": tinyModel(merges: ["a c"])]))) {
            guard case TokenizerError.invalidMerge(_, 0, "a c", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerLoader.load(tokenizerJSON: json(["model": tinyModel(merges: ["a  b"])]))) {
            guard case TokenizerError.invalidMerge(_, 0, "a  b", _) = $0 else { return XCTFail("\($0)") }
        }
        let config = try json(["bos_token": "<missing>"])
        XCTAssertThrowsError(try TokenizerLoader.load(tokenizerJSON: json(["model": tinyModel()]), config: config)) {
            guard case TokenizerError.unknownToken(_, "<missing>", "bos_token") = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertTrue("\(TokenizerError.invalidMerge(file: "f.json", index: 4, merge: "a c", reason: "r"))".contains("f.json"))
    }
}
