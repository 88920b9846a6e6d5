// Phi-3 / Phi-4-mini specifics against transformers' tiny_phi3 (scripts/make_llama_fixtures.py):
// both config.json spellings, LongRoPE's two inverse-frequency sets and attention factor, the
// config.json Lorikeet writes, and the errors a bad Phi-3 config gets.
import XCTest
import TensorCore
import ModelFormats
@testable import Llama

final class Phi3ParityTests: XCTestCase {
    var folder: URL { Fixtures.folder.appendingPathComponent("tiny_phi3") }

    func testConfigurationFromBothSpellings() throws {
        let classic = try LlamaConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        XCTAssertEqual(classic.modelType, "phi3")
        XCTAssertTrue(classic.fusedProjections)
        XCTAssertEqual(classic.linearModules, [.qkvProjection, .outputProjection, .gateUpProjection, .downProjection])
        XCTAssertEqual(classic.headDim, 16)
        XCTAssertEqual(classic.rotaryDimensions, 12)
        XCTAssertEqual(classic.slidingWindow, 12)
        XCTAssertTrue(classic.tieWordEmbeddings)
        guard case let .longrope(short, long, original, _) = classic.ropeScaling else { return XCTFail("\(String(describing: classic.ropeScaling))") }
        XCTAssertEqual(original, 16)
        XCTAssertEqual(short.count, 6)
        XCTAssertEqual(long.count, 6)
        // transformers 5's rope_parameters spelling reads the same.
        XCTAssertEqual(try LlamaConfiguration(contentsOf: folder.appendingPathComponent("config.v5.json")), classic)
        // So does the config.json Lorikeet writes.
        XCTAssertEqual(try LlamaConfiguration(json: classic.huggingFaceJSON(), source: "export"), classic)
    }

    func testLongRopeFrequenciesAndAttentionFactorMatchTransformers() throws {
        let c = try LlamaConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        let ref = try Fixtures.tensors("tiny_phi3/reference.safetensors")
        assertRelativeClose(c.ropeInverseFrequencies, try ref.tensor("rope.short.inv_freq").floats, rtol: 1e-6, "short inv_freq")
        assertRelativeClose(try XCTUnwrap(c.longRopeInverseFrequencies), try ref.tensor("rope.long.inv_freq").floats, rtol: 1e-6, "long inv_freq")
        XCTAssertEqual(c.ropeAttentionFactor, try ref.tensor("rope.attention_scaling").floats[0], accuracy: 1e-7)
        XCTAssertEqual(c.ropeAttentionFactor, Float(1.5).squareRoot(), accuracy: 1e-6)  // √(1 + ln 4 / ln 16)
    }

    func testLoRATargetsUseTheFusedNames() throws {
        let model = try ModelLoader.loadNetwork(folder: folder)
        XCTAssertNotNil(model.parameters["model.layers.0.self_attn.qkv_proj.weight"])
        XCTAssertEqual(model.parameter("model.layers.1.mlp.gate_up_proj.weight").value.shape, [192, 64])
        XCTAssertEqual(model.parameter("model.layers.1.self_attn.qkv_proj.weight").value.shape, [64 + 2 * 32, 64])
        XCTAssertNil(model.parameters["model.layers.0.self_attn.q_proj.weight"])
    }

    func testBadPhi3ConfigsNameTheField() throws {
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
        func error(_ change: (inout [String: Any]) -> Void) -> String {
            var d = base
            change(&d)
            do {
                _ = try LlamaConfiguration(json: try JSONSerialization.data(withJSONObject: d), source: "phi/config.json")
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertTrue(error { $0["rope_scaling"] = ["type": "longrope", "short_factor": [1, 1], "long_factor": [1, 1]] }
            .contains("short_factor has 2 values, expected 6"))
        XCTAssertTrue(error { $0["rope_scaling"] = ["type": "yarn", "factor": 2] }.contains("'yarn' is not supported (default, longrope)"))
        XCTAssertTrue(error { $0["hidden_act"] = "gelu" }.contains("hidden_act 'gelu' is not supported"))
        XCTAssertTrue(error { $0["partial_rotary_factor"] = 1.5 }.contains("partial_rotary_factor"))
        XCTAssertTrue(error { $0["rope_scaling"] = ["type": "longrope", "long_factor": [1, 1, 1, 1, 1, 1]] }
            .contains("rope_scaling.short_factor is missing"))
        // LongRoPE is Phi-3's: another family asking for it is refused, not half-read.
        XCTAssertTrue(error { $0["model_type"] = "llama" }.contains("'longrope' is not supported (default, linear, llama3)"))
    }
}
