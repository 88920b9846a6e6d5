// Tokenizer-id parity on llama.cpp's vocab-only GGUF files (Fixtures/llamacpp_vocab, see its README):
// each file's tokenizer.ggml.* metadata builds our tokenizer as a model load does (GGUFFile →
// ModelLoader.tokenizerData → TokenizerLoader.load(gguf:)), and every test string of its .inp must give
// the ids of its .out, which Hugging Face's AutoTokenizer wrote with add_special_tokens=False
// (llama.cpp's test-tokenizer-0 tokenizes with add_special and parse_special off, so no BOS here).
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

    static let folder = Fixtures.url("llamacpp_vocab")
    /// The line that separates test strings in a .inp file (test-tokenizer-0.cpp).
    static let separator = Array("\n__ggml_vocab_test__\n".utf8)

    /// The vocab `name` from ggml-vocab-NAME.gguf.
    init(_ name: String) throws {
        self.name = name
        let path = Self.folder.appendingPathComponent("ggml-vocab-\(name).gguf").path
        data = try ModelLoader.tokenizerData(gguf: GGUFFile(path: path))
        tokenizer = try TokenizerLoader.load(gguf: data)
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
        for c in cases {
            let shown = "\(name): \"\(Fixtures.show(c.text))\""
            XCTAssertEqual(tokenizer.encode(c.text, addSpecialTokens: false), c.ids, shown, file: file, line: line)
            XCTAssertEqual(Array(tokenizer.decode(c.ids, skipSpecialTokens: false).utf8), Array(c.text.utf8),
                           "decode " + shown, file: file, line: line)
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

    func testInputSplittingFollowsTestTokenizer0() {
        let sep = "\n__ggml_vocab_test__\n"
        XCTAssertEqual(LlamaCppVocab.splitInputs(Array("a\(sep)\(sep) b\(sep)".utf8)), ["a", "", " b"])
        XCTAssertEqual(LlamaCppVocab.splitInputs(Array("a\(sep)\n".utf8)), ["a", "\n"])
        XCTAssertEqual(LlamaCppVocab.splitInputs([]), [])
    }
}
