// The model configuration read from hostile GGUF metadata and config.json files (found by
// Fuzz/LorikeetFuzz's FuzzGGUF and FuzzHFConfig): counts that size per-layer lists or divide
// are checked before use, so a bad file is a ConfigurationError naming the key, never a trap,
// a hang or a huge allocation.
import Foundation
import XCTest
import ModelFormats
@testable import Llama

final class ConfigurationRobustnessTests: XCTestCase {
    /// A metadata-only GGUF of `architecture` with a plausible tiny model's keys, then `overrides`.
    func gguf(_ architecture: String, _ overrides: [String: GGUFValue]) throws -> GGUFFile {
        var w = GGUFWriter()
        w.set("general.architecture", .string(architecture))
        let keys: [String: GGUFValue] = [
            "embedding_length": .uint32(64), "feed_forward_length": .uint32(128), "block_count": .uint32(2),
            "attention.head_count": .uint32(4), "attention.head_count_kv": .uint32(2), "context_length": .uint32(512),
            "vocab_size": .uint32(256), "attention.key_length": .uint32(16),
        ]
        for (k, v) in keys { w.set("\(architecture).\(k)", v) }
        for (k, v) in overrides { w.set(k, v) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-config-\(UUID().uuidString).gguf")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        try w.write(to: url)
        return try GGUFFile(path: url.path)
    }

    func assertInvalid(_ file: GGUFFile, field: String, _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try ModelLoader.configuration(gguf: file), message, line: line) { error in
            guard case .invalid(let f, _, _)? = error as? ConfigurationError else {
                return XCTFail("\(message): expected ConfigurationError.invalid, got \(error)", line: line)
            }
            XCTAssertEqual(f, field, message, line: line)
        }
    }

    func testPlausibleFilesLoad() throws {
        for arch in ["gemma2", "gemma3", "smollm3", "llama"] {
            XCTAssertEqual(try ModelLoader.configuration(gguf: gguf(arch, [:])).layerCount, 2, arch)
        }
    }

    /// The fuzzer's input: gemma2.block_count 654 311 426 built a 654 M-entry sliding-layer list
    /// (seconds and gigabytes under ASan) before validation rejected it.
    func testFuzzedGemmaBlockCountIsRejectedBeforeUse() throws {
        let file = try GGUFFile(path: Fixtures.folder.appendingPathComponent("fuzz/gemma2_block_count_654M.gguf").path)
        assertInvalid(file, field: "gemma2.block_count", "fuzzed gemma2 file")
    }

    func testNegativeAndHugeBlockCountsThrow() throws {
        for arch in ["gemma2", "gemma3", "smollm3"] {
            for count: GGUFValue in [.int64(-1), .int64(0), .uint64(1 << 40), .int64(.min)] {
                assertInvalid(try gguf(arch, ["\(arch).block_count": count]), field: "\(arch).block_count", "\(arch) \(count)")
            }
        }
    }

    /// 62 layers is Gemma 3 27B, whose attention scale divides by the head count.
    func testZeroHeadsOfA27BLayoutThrows() throws {
        let file = try gguf("gemma3", ["gemma3.block_count": .uint32(62), "gemma3.attention.head_count": .uint32(0)])
        assertInvalid(file, field: "gemma3.attention.head_count", "gemma3 with 62 layers and no heads")
    }

    func assertInvalidJSON(_ json: String, field: String, line: UInt = #line) {
        XCTAssertThrowsError(try LlamaConfiguration(json: Data(json.utf8), source: "config.json"), json, line: line) { error in
            guard case .invalid(let f, _, _)? = error as? ConfigurationError else {
                return XCTFail("\(json): expected ConfigurationError.invalid, got \(error)", line: line)
            }
            XCTAssertEqual(f, field, json, line: line)
        }
    }

    /// The fuzzer's input: a gemma3_text config.json with num_hidden_layers -3 trapped on the
    /// range 0..<-3 while building the sliding-layer list.
    func testFuzzedGemma3NegativeLayersThrows() throws {
        let data = try Data(contentsOf: Fixtures.folder.appendingPathComponent("fuzz/gemma3_negative_layers.json"))
        assertInvalidJSON(String(decoding: data, as: UTF8.self), field: "num_hidden_layers")
    }

    func testConfigJSONLayerCountsAndPatternsThrow() {
        for type in ["gemma3_text", "gemma2"] {
            for n in [-1, 0, 1 << 40] {
                assertInvalidJSON(#"{"model_type": "\#(type)", "num_hidden_layers": \#(n)}"#, field: "num_hidden_layers")
            }
        }
        assertInvalidJSON(#"{"model_type": "gemma3_text", "num_hidden_layers": 4, "sliding_window_pattern": 0}"#, field: "sliding_window_pattern")
        let smol = #""model_type": "smollm3", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 256, "intermediate_size": 128"#
        for n in [-5, 1 << 40] {
            assertInvalidJSON("{\(smol), \"num_hidden_layers\": \(n)}", field: "num_hidden_layers")
        }
    }
}
