// GGUF tokenizer metadata exported to tokenizer.json + tokenizer_config.json and loaded back must give the
// reference ids of the real libraries on the whole corpus. With LORIKEET_KEEP_EXPORT=DIR the folders are
// also written to DIR/<name>/ for scripts/check_tokenizer_export.py (transformers' AutoTokenizer).
import Foundation
import XCTest
@testable import Tokenizers

final class TokenizerExportTests: XCTestCase {
    func testSmolLM2RoundTrip() throws {
        let data = try Fixtures.gguf("smollm2_gguf.json")
        let tokenizer = try roundTrip(data, name: "smollm2")
        assertMatchesReference(tokenizer, try Fixtures.expected("smollm2"))
        XCTAssertEqual(tokenizer.bosTokenID, 1)
        XCTAssertEqual(tokenizer.eosTokenID, 2)
        XCTAssertEqual(tokenizer.vocabularySize, 49152)
    }

    func testSentencePieceFromScoresRoundTrip() throws {
        let data = try Fixtures.gguf("spm_gguf.json")
        let tokenizer = try roundTrip(data, name: "spm")
        assertMatchesReference(tokenizer, try Fixtures.expected("spm_legacy"))
        XCTAssertEqual(tokenizer.encode("", addSpecialTokens: true), [1])
        XCTAssertEqual(tokenizer.vocabularySize, 1000)
        // The merges recovered from scores are the ones transformers recovers from the same vocabulary.
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("spm_legacy.json"))) as? [String: Any]
        let referenceMerges = ((reference?["model"] as? [String: Any])?["merges"] as? [[String]] ?? []).map { $0.joined(separator: " ") }
        let exported = try JSONSerialization.jsonObject(with: TokenizerExport.tokenizerJSON(from: data)) as? [String: Any]
        let exportedMerges = ((exported?["model"] as? [String: Any])?["merges"] as? [[String]] ?? []).map { $0.joined(separator: " ") }
        XCTAssertEqual(Set(exportedMerges), Set(referenceMerges))
    }

    func testLlama3PreTokenizerRoundTrip() throws {
        var data = try Self.byteLevelGGUF("bpe_llama3.json", pre: "llama-bpe")
        data.bosTokenID = 0
        data.addBOS = true
        assertMatchesReference(try roundTrip(data, name: "llama3"), try Fixtures.expected("bpe_llama3"))
    }

    func testQwen2PreTokenizerRoundTrip() throws {
        let data = try Self.byteLevelGGUF("bpe_qwen2.json", pre: "qwen2")
        var reference = try Fixtures.expected("bpe_qwen2")
        // The fixture's "café" is a normalized added token; GGUF user-defined tokens match the raw text.
        reference.cases.removeAll { $0.text.contains("cafe\u{301}") }
        assertMatchesReference(try roundTrip(data, name: "qwen2"), reference)
    }

    func testConfigCarriesSpecialTokensAndTemplate() throws {
        let data = try Fixtures.gguf("smollm2_gguf.json")
        let config = try JSONSerialization.jsonObject(
            with: TokenizerExport.tokenizerConfigJSON(from: data, modelMaxLength: 8192)) as? [String: Any]
        XCTAssertEqual(config?["bos_token"] as? String, "<|im_start|>")
        XCTAssertEqual(config?["eos_token"] as? String, "<|im_end|>")
        XCTAssertEqual(config?["unk_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(config?["pad_token"] as? String, "<|im_end|>")
        XCTAssertEqual(config?["add_bos_token"] as? Bool, false)
        XCTAssertEqual(config?["add_eos_token"] as? Bool, false)
        XCTAssertEqual(config?["model_max_length"] as? Int, 8192)
        XCTAssertEqual(config?["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
        XCTAssertEqual(config?["chat_template"] as? String, data.chatTemplate)
    }

    func testWriteReplacesFilesAndLeavesNoTemporaries() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Fixtures.gguf("spm_gguf.json")
        try TokenizerExport.write(data, to: folder, modelMaxLength: nil)
        try TokenizerExport.write(data, to: folder, modelMaxLength: 4096)   // over existing files
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(),
                       ["tokenizer.json", "tokenizer_config.json"])
        let tokenizer = try TokenizerLoader.load(folder: folder)
        XCTAssertEqual(tokenizer.encode("Hello world"), try TokenizerLoader.load(gguf: data).encode("Hello world"))
    }

    func testUnsupportedMetadataIsRejectedByKey() throws {
        var data = try Fixtures.gguf("smollm2_gguf.json")
        data.pre = "made-up"
        XCTAssertThrowsError(try TokenizerExport.tokenizerJSON(from: data)) {
            guard case TokenizerError.unsupported(_, "tokenizer.ggml.pre", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerExport.tokenizerJSON(from: GGUFTokenizerData(model: "bert", tokens: ["a"]))) {
            guard case TokenizerError.unsupported(_, "tokenizer.ggml.model", _) = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TokenizerExport.tokenizerConfigJSON(
            from: GGUFTokenizerData(model: "llama", tokens: ["a"], scores: [0]), modelMaxLength: nil)) {
            guard case TokenizerError.invalidGGUF("tokenizer.ggml.bos_token_id", _) = $0 else { return XCTFail("\($0)") }
        }
    }

    func testQuoteEscapesControlsOnly() {
        XCTAssertEqual(TokenizerExport.quote("a\"b\\c\n\u{1}\u{7f}é▁"), #""a\"b\\c\n\u0001\u007fé▁""#)
    }

    // MARK: helpers

    /// Exports `data`, loads the files back, and keeps them under LORIKEET_KEEP_EXPORT/<name> when set.
    private func roundTrip(_ data: GGUFTokenizerData, name: String) throws -> any Tokenizer {
        let json = try TokenizerExport.tokenizerJSON(from: data)
        let config = try TokenizerExport.tokenizerConfigJSON(from: data, modelMaxLength: 2048)
        if let keep = ProcessInfo.processInfo.environment["LORIKEET_KEEP_EXPORT"], !keep.isEmpty {
            try TokenizerExport.write(data, to: URL(fileURLWithPath: keep).appendingPathComponent(name), modelMaxLength: 2048)
        }
        return try TokenizerLoader.load(tokenizerJSON: json, config: config, fileName: "\(name)/tokenizer.json")
    }

    /// A byte-level tokenizer.json fixture as GGUF metadata: tokens by id, "a b" merges, added tokens
    /// typed control (special) or user-defined.
    private static func byteLevelGGUF(_ file: String, pre: String) throws -> GGUFTokenizerData {
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url(file))) as? [String: Any]
        let model = spec?["model"] as? [String: Any]
        var byID = [Int: (String, Int32)]()
        for (token, id) in model?["vocab"] as? [String: Int] ?? [:] { byID[id] = (token, GGUFTokenType.normal) }
        for t in spec?["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = t["id"] as? Int, let content = t["content"] as? String else { continue }
            byID[id] = (content, (t["special"] as? Bool ?? false) ? GGUFTokenType.control : GGUFTokenType.userDefined)
        }
        let count = (byID.keys.max() ?? -1) + 1
        let merges = (model?["merges"] as? [[String]] ?? []).map { $0.joined(separator: " ") }
        return GGUFTokenizerData(model: "gpt2", pre: pre, tokens: (0..<count).map { byID[$0]?.0 ?? "" },
                                 tokenTypes: (0..<count).map { byID[$0]?.1 ?? GGUFTokenType.unused }, merges: merges)
    }
}
