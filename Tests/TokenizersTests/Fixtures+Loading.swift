// Test helpers: locating and reading the reference fixtures that scripts/make_tokenizer_fixtures.py
// produced with Hugging Face `tokenizers` / transformers / sentencepiece (never with this module).
import Foundation
import XCTest
@testable import Tokenizers

/// Reference data for one tokenizer: for each corpus line, the ids and decoded text of the real library.
struct ExpectedFile: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var idsNoSpecial: [Int]
        var decoded: String
        var decodedSkipSpecial: String
        var sentencepieceIDs: [Int]?
        /// The pre-tokenizer's pieces for the whole line (byte-level alphabet for ByteLevel chains).
        var pieces: [String]?

        enum CodingKeys: String, CodingKey {
            case text, ids, idsNoSpecial = "ids_no_special", decoded, decodedSkipSpecial = "decoded_skip_special"
            case sentencepieceIDs = "sentencepiece_ids", pieces
        }
    }
    /// Ids that do not form valid UTF-8, with the library's decode (where U+FFFD goes).
    struct DecodeCase: Decodable {
        var ids: [Int]
        var decoded: String
    }
    var tokenizer: String
    var cases: [Case]
    var decodeCases: [DecodeCase]

    enum CodingKeys: String, CodingKey {
        case tokenizer, cases, decodeCases = "decode_cases"
    }
}

/// GGUF tokenizer metadata as the fixture script dumped it (GGUF key names).
struct GGUFFixture: Decodable {
    var model: String
    var pre: String
    var tokens: [String]?
    /// When set, tokens and merges are those of this tokenizer.json (the fixture script checked they agree).
    var tokensAndMergesFrom: String?
    var tokenType: [Int32]
    var merges: [String]?
    var scores: [Float]?
    var bosTokenID: Int
    var eosTokenID: Int
    var unknownTokenID: Int?
    var paddingTokenID: Int?
    var addBOSToken: Bool
    var chatTemplate: String?

    enum CodingKeys: String, CodingKey {
        case model, pre, tokens, tokensAndMergesFrom = "tokens_and_merges_from", tokenType = "token_type", merges
        case scores, bosTokenID = "bos_token_id"
        case eosTokenID = "eos_token_id", unknownTokenID = "unknown_token_id", paddingTokenID = "padding_token_id"
        case addBOSToken = "add_bos_token", chatTemplate = "chat_template"
    }

    func data() throws -> GGUFTokenizerData {
        var tokens = self.tokens ?? [], merges = self.merges
        if let source = tokensAndMergesFrom {
            // Byte-level spellings have no canonically equivalent pairs, so a String-keyed parse is exact here.
            let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url(source))) as? [String: Any]
            let model = spec?["model"] as? [String: Any]
            let vocab = model?["vocab"] as? [String: Int] ?? [:]
            tokens = [String](repeating: "", count: vocab.count)
            for (token, id) in vocab { tokens[id] = token }
            merges = (model?["merges"] as? [[String]] ?? []).map { $0.joined(separator: " ") }
        }
        return GGUFTokenizerData(model: model, pre: pre, tokens: tokens, scores: scores, tokenTypes: tokenType, merges: merges,
                          bosTokenID: bosTokenID, eosTokenID: eosTokenID, unknownTokenID: unknownTokenID,
                          paddingTokenID: paddingTokenID, addBOS: addBOSToken, chatTemplate: chatTemplate)
    }
}

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    static func expected(_ name: String) throws -> ExpectedFile {
        try JSONDecoder().decode(ExpectedFile.self, from: Data(contentsOf: url("expected_\(name).json")))
    }

    static func gguf(_ name: String) throws -> GGUFTokenizerData {
        try JSONDecoder().decode(GGUFFixture.self, from: Data(contentsOf: url(name))).data()
    }

    /// A tokenizer.json fixture loaded on its own (no tokenizer_config.json).
    static func tokenizerJSON(_ name: String) throws -> any Tokenizer {
        try TokenizerLoader.load(tokenizerJSON: Data(contentsOf: url(name)), fileName: name)
    }

    /// A readable description of a corpus line for failure messages.
    static func show(_ text: String) -> String {
        text.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
    }
}

/// Checks `tokenizer` against every case of the reference file: ids with and without special tokens,
/// and decoded text keeping and skipping special tokens (compared byte for byte, not canonically).
func assertMatchesReference(_ tokenizer: any Tokenizer, _ reference: ExpectedFile, checkDecode: Bool = true,
                            file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertGreaterThan(reference.cases.count, 20, file: file, line: line)
    for c in reference.cases {
        let shown = "\(reference.tokenizer): \"\(Fixtures.show(c.text))\""
        if let expectedPieces = c.pieces, let pipeline = tokenizer as? PipelineTokenizer {
            XCTAssertEqual(pipeline.preTokenize(c.text).map { pipeline.byteLevelInput ? ByteLevel.encode($0.utf8) : $0 },
                           expectedPieces, "pieces " + shown, file: file, line: line)
        }
        XCTAssertEqual(tokenizer.encode(c.text, addSpecialTokens: true), c.ids, shown, file: file, line: line)
        XCTAssertEqual(tokenizer.encode(c.text, addSpecialTokens: false), c.idsNoSpecial, shown, file: file, line: line)
        guard checkDecode else { continue }
        XCTAssertEqual(Array(tokenizer.decode(c.ids, skipSpecialTokens: false).utf8), Array(c.decoded.utf8),
                       "decode " + shown, file: file, line: line)
        XCTAssertEqual(Array(tokenizer.decode(c.ids, skipSpecialTokens: true).utf8), Array(c.decodedSkipSpecial.utf8),
                       "decode skipping specials " + shown, file: file, line: line)
    }
    guard checkDecode else { return }
    XCTAssertEqual(reference.decodeCases.count, 5, file: file, line: line)
    for c in reference.decodeCases {
        XCTAssertEqual(Array(tokenizer.decode(c.ids, skipSpecialTokens: false).utf8), Array(c.decoded.utf8),
                       "\(reference.tokenizer): decode of invalid UTF-8 \(c.ids)", file: file, line: line)
    }
}
