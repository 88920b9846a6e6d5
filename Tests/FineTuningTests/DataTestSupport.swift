// Helpers for the data set tests: the SmolLM2 model (tokenizer + ChatML template) loaded once
// through ModelLoader, skipped when the GGUF has not been fetched; the data fixtures folder;
// and a one-id-per-character tokenizer for tests that need no real vocabulary.
import XCTest
import Foundation
import Tokenizers
import Llama
@testable import FineTuning

enum DataTestSupport {
    /// The repository root, three levels above this file.
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Tests/FineTuningTests/Fixtures/data.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/data")

    /// The path of a data fixture.
    static func fixture(_ relative: String) -> String { fixtures.appendingPathComponent(relative).path }

    static let smolLM2Path: String = ProcessInfo.processInfo.environment["LORIKEET_SMOLLM2"]
        ?? repoRoot.appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").path

    private static let loaded: Result<LoadedModel, any Error>? = {
        guard FileManager.default.fileExists(atPath: smolLM2Path) else { return nil }
        return Result { try ModelLoader.load(smolLM2Path) }
    }()

    /// SmolLM2-135M-Instruct, or an XCTSkip when the GGUF is missing.
    static func smolLM2() throws -> LoadedModel {
        guard let loaded else { throw XCTSkip("SmolLM2 GGUF not found at \(smolLM2Path): run scripts/fetch-smollm2.sh") }
        return try loaded.get()
    }

    /// An encoder over SmolLM2's tokenizer and chat template.
    static func smolEncoder(trainOnInputs: Bool = false, template: Bool = true) throws -> DatasetEncoder {
        let m = try smolLM2()
        return DatasetEncoder(tokenizer: m.tokenizer, chatTemplate: template ? m.chatTemplate : nil,
                              bosToken: m.bosToken, eosToken: m.eosToken, trainOnInputs: trainOnInputs)
    }

    /// Encodes one JSON line with `encoder`.
    static func encode(_ json: String, _ encoder: DatasetEncoder) throws -> TokenizedExample {
        let at = DatasetLocation(file: "test.jsonl", line: 1)
        return try encoder.encode(DatasetRecord(jsonLine: json, location: at), location: at)
    }

    /// An example whose tokens are `base, base+1, …` and whose targets start at `firstTarget`.
    static func example(length: Int, base: Int = 100, firstTarget: Int = 1) -> TokenizedExample {
        TokenizedExample(tokens: (0..<length).map { base + $0 }, targetMask: (0..<length).map { $0 >= max(firstTarget, 1) })
    }
}

/// One token per Unicode scalar (id = scalar value); EOS is id 3, spelled "</s>". No BOS.
struct DataCharTokenizer: Tokenizer {
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        var rest = Substring(text)
        while let first = rest.unicodeScalars.first {
            if rest.hasPrefix("</s>") {
                ids.append(3)
                rest = rest.dropFirst(4)
            } else {
                ids.append(Int(first.value))
                rest = Substring(rest.unicodeScalars.dropFirst())
            }
        }
        return ids
    }

    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        ids.compactMap { $0 == 3 ? (skipSpecialTokens ? nil : "</s>") : token($0) }.joined()
    }

    var vocabularySize: Int { 0x11_0000 }
    var bosTokenID: Int? { nil }
    var eosTokenID: Int? { 3 }

    func tokenID(_ token: String) -> Int? {
        if token == "</s>" { return 3 }
        let scalars = Array(token.unicodeScalars)
        return scalars.count == 1 ? Int(scalars[0].value) : nil
    }

    func token(_ id: Int) -> String? {
        if id == 3 { return "</s>" }
        return Unicode.Scalar(UInt32(id)).map { String($0) }
    }
}

extension DatasetEncoder {
    /// An encoder over DataCharTokenizer with no chat template (ChatML fallback).
    static func characters(trainOnInputs: Bool = false) -> DatasetEncoder {
        DatasetEncoder(tokenizer: DataCharTokenizer(), chatTemplate: nil, bosToken: "", eosToken: "</s>",
                       trainOnInputs: trainOnInputs)
    }
}
