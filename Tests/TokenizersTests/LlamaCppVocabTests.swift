// Tokenizer-id parity on llama.cpp's vocab-only GGUF files (Fixtures/llamacpp_vocab, see its README):
// each file's tokenizer.ggml.* metadata builds our tokenizer as a model load does (GGUFFile →
// ModelLoader.tokenizerData → TokenizerLoader.load(gguf:)), and every test string of its .inp must give
// the ids of its .out, which Hugging Face's AutoTokenizer wrote with add_special_tokens=False
// (llama.cpp's test-tokenizer-0 tokenizes with add_special and parse_special off, so no BOS here).
// Where llama.cpp ships no vocab GGUF (gpt-4o, llama-bpe, qwen2) a subset GGUF made by
// scripts/make_llamacpp_vocab_fixtures.py stands in, its ids mapped back to the real ones.
import Foundation
import XCTest
import Llama
import ModelFormats
@testable import Tokenizers

/// One llama.cpp vocab test: its GGUF's tokenizer and the (text, Hugging Face ids) pairs.
struct LlamaCppVocab {
    var name: String
    var data: GGUFTokenizerData
    var tokenizer: any Tokenizer
    var cases: [(text: String, ids: [Int])]
    /// For a subset vocab: the real id of each of its ids (lorikeet.test.original_ids); nil for a whole one.
    var originalIDs: [Int]?

    static let folder = Fixtures.url("llamacpp_vocab")
    /// The line that separates test strings in a .inp file (test-tokenizer-0.cpp).
    static let separator = Array("\n__ggml_vocab_test__\n".utf8)

    /// The vocab `name` from ggml-vocab-NAME.gguf, or with `subset` from lorikeet-vocab-NAME.subset.gguf.
    init(_ name: String, subset: Bool = false) throws {
        self.name = name
        let path = Self.folder.appendingPathComponent("ggml-vocab-\(name).gguf").path
        let gguf = try GGUFFile(path: subset ? Self.folder.appendingPathComponent("lorikeet-vocab-\(name).subset.gguf").path : path)
        data = try ModelLoader.tokenizerData(gguf: gguf)
        tokenizer = try TokenizerLoader.load(gguf: data)
        if subset {
            guard let ids = gguf["lorikeet.test.original_ids"]?.ints else {
                throw TokenizerError.invalidGGUF(key: "lorikeet.test.original_ids", detail: "missing in \(gguf.path)")
            }
            originalIDs = ids
        }
        let texts = Self.splitInputs(Array(try Data(contentsOf: URL(fileURLWithPath: path + ".inp"))))
        let lines = try String(decoding: Data(contentsOf: URL(fileURLWithPath: path + ".out")), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        // Like std::getline: a final newline does not start another line.
        let outputs = lines.last == "" ? lines.dropLast() : lines[...]
        guard texts.count == outputs.count else {
            throw TokenizerError.invalidJSON(file: path, detail: "\(texts.count) test strings but \(outputs.count) id lines")
        }
        cases = try zip(texts, outputs).enumerated().map { i, pair in
            let ids = try pair.1.split(separator: " ").map { field -> Int in
                guard let id = Int(field) else {
                    throw TokenizerError.invalidJSON(file: path + ".out", detail: "line \(i + 1): \"\(field)\" is not an id")
                }
                return id
            }
            return (pair.0, ids)
        }
    }

    /// The .inp strings: pieces between separators; a separator at the very end starts no new piece.
    static func splitInputs(_ bytes: [UInt8]) -> [String] {
        var pieces: [String] = [], start = 0, i = 0
        while i + separator.count <= bytes.count {
            if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                pieces.append(String(decoding: bytes[start..<i], as: UTF8.self))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count { pieces.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return pieces
    }

    /// Asserts every case's ids, and that decoding the reference ids gives the text back byte for byte
    /// (these tokenizers lose nothing on these strings: no normalizer beyond the "▁" prefix).
    func check(file: StaticString = #filePath, line: UInt = #line) {
        check(tokenizer, file: file, line: line)
    }

    func check(_ tokenizer: any Tokenizer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(cases.count, 40, file: file, line: line)
        let toSubset = Dictionary(uniqueKeysWithValues: (originalIDs ?? []).enumerated().map { ($1, $0) })
        for c in cases {
            let shown = "\(name): \"\(Fixtures.show(c.text))\""
            var ids = tokenizer.encode(c.text, addSpecialTokens: false)
            var reference = c.ids
            if let originalIDs {
                ids = ids.map { originalIDs[$0] }
                reference = c.ids.map { toSubset[$0] ?? -1 }
            }
            XCTAssertEqual(ids, c.ids, shown, file: file, line: line)
            XCTAssertEqual(Array(tokenizer.decode(originalIDs == nil ? c.ids : reference, skipSpecialTokens: false).utf8),
                           Array(c.text.utf8), "decode " + shown, file: file, line: line)
        }
    }
}

final class LlamaCppVocabTests: XCTestCase {
    /// Phi-3 (mini-4k): Llama SentencePiece, 32064 ids (32000 + Phi-3's added chat tokens).
    func testPhi3() throws {
        let vocab = try LlamaCppVocab("phi-3")
        XCTAssertEqual(vocab.tokenizer.vocabularySize, 32064)
        vocab.check()
    }

    /// Llama 2's SentencePiece vocabulary (32000 ids), which TinyLlama and Mistral 7B v0.1 share in form.
    func testLlamaSPM() throws {
        let vocab = try LlamaCppVocab("llama-spm")
        XCTAssertEqual(vocab.tokenizer.vocabularySize, 32000)
        vocab.check()
    }

    /// GPT-2's byte-level BPE (50257 ids), pre-tokenizer "gpt-2": the one real byte-level vocab in the
    /// snapshot (llama-bpe and qwen2 GGUFs are too large for it), so the byte-level path meets real merges.
    func testGPT2() throws {
        let vocab = try LlamaCppVocab("gpt-2")
        XCTAssertEqual(vocab.tokenizer.vocabularySize, 50257)
        vocab.check()
    }

    /// GPT-4o's o200k vocabulary (Phi-4-mini's is o200k with its own added tokens), pre-tokenizer "gpt-4o".
    func testGPT4o() throws {
        try LlamaCppVocab("gpt-4o", subset: true).check()
    }

    /// Llama 3's vocabulary, pre-tokenizer "llama-bpe": " Việt" is a token that merging does not reach.
    func testLlama3() throws {
        try LlamaCppVocab("llama-bpe", subset: true).check()
    }

    /// Qwen2's vocabulary (Qwen2.5 and Qwen3 share it), pre-tokenizer "qwen2".
    func testQwen2() throws {
        try LlamaCppVocab("qwen2", subset: true).check()
    }

    /// The byte-level vocabs written out as tokenizer.json (as `lorikeet export` does) load back to the
    /// same ids, and back to GGUF with the same tokenizer.ggml.pre: the o200k regex and Llama 3's
    /// ignore_merges survive the trip.
    func testSubsetVocabsSurviveTokenizerJSON() throws {
        for name in ["gpt-4o", "llama-bpe", "qwen2"] {
            let vocab = try LlamaCppVocab(name, subset: true)
            let json = try TokenizerExport.tokenizerJSON(from: vocab.data)
            vocab.check(try TokenizerLoader.load(tokenizerJSON: json, fileName: "\(name) tokenizer.json"))
            let back = try TokenizerExport.ggufData(tokenizerJSON: json, config: nil, chatTemplate: nil,
                                                    vocabularySize: vocab.data.tokens.count)
            XCTAssertEqual(back.pre, vocab.data.pre, name)
        }
    }

    /// The o200k split against Hugging Face's pieces on the tokenizer corpus (case changes, marks,
    /// contractions, digits, newlines after punctuation).
    func testO200kPiecesMatchTokenizers() throws {
        struct File: Decodable {
            struct Case: Decodable { var text: String; var pieces: [String] }
            var regex: String
            var cases: [Case]
        }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: Fixtures.url("o200k_pieces.json")))
        XCTAssertEqual(SplitPattern(regex: file.regex), .o200k)
        let pipeline = try XCTUnwrap(try TokenizerLoader.load(gguf: GGUFTokenizerData(
            model: "gpt2", pre: "gpt-4o", tokens: ["a"], merges: [])) as? PipelineTokenizer)
        XCTAssertGreaterThan(file.cases.count, 100)
        for c in file.cases {
            XCTAssertEqual(pipeline.preTokenize(c.text).map { ByteLevel.encode($0.utf8) }, c.pieces, Fixtures.show(c.text))
        }
    }

    /// A Llama 3 GGUF takes a word found whole in the vocabulary even where the merges would not build
    /// it (llama.cpp's ignore_merges for its Llama 3 pre-types); other pre-types merge.
    func testLlama3PreTypeIgnoresMerges() throws {
        let tokens = ["a", "b", "c", "bc", "abc"]
        func ids(_ pre: String) throws -> [Int] {
            try TokenizerLoader.load(gguf: GGUFTokenizerData(model: "gpt2", pre: pre, tokens: tokens, merges: ["b c"]))
                .encode("abc", addSpecialTokens: false)
        }
        XCTAssertEqual(try ids("llama-bpe"), [4])
        XCTAssertEqual(try ids("qwen2"), [0, 3])
        XCTAssertEqual(try ids("gpt-4o"), [0, 3])
    }

    func testInputSplittingFollowsTestTokenizer0() {
        let sep = "\n__ggml_vocab_test__\n"
        XCTAssertEqual(LlamaCppVocab.splitInputs(Array("a\(sep)\(sep) b\(sep)".utf8)), ["a", "", " b"])
        XCTAssertEqual(LlamaCppVocab.splitInputs(Array("a\(sep)\n".utf8)), ["a", "\n"])
        XCTAssertEqual(LlamaCppVocab.splitInputs([]), [])
    }
}
