// Adapters out to llama.cpp / Ollama (GGUF LoRA files) and mlx-lm (adapters.safetensors), and
// back: the files carry the names, shapes, permutation and scale those tools expect, and every
// pair computes exactly the change it computes here — including rsLoRA and rank/alpha
// patterns, which the one-alpha GGUF and the one-rank, one-scale mlx-lm files get by folding.
import XCTest
import Foundation
import TensorCore
import Quantization
import ModelFormats
import Llama
@testable import FineTuning

final class AdapterExportTests: XCTestCase {
    let ids: [Int32] = [3, 17, 99, 250, 4, 8, 15, 16, 42, 7]

    /// rsLoRA, a rank pattern and an alpha pattern: the scales differ from alpha / r everywhere.
    static let patterned = LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"], rankPattern: ["down_proj": 2],
                                             alphaPattern: ["o_proj": 3], useRSLoRA: true)

    /// An adapter whose B is random (a fresh one changes nothing).
    func trained(_ model: LlamaModel, _ config: LoRAConfiguration) throws -> LoRAAdapter {
        let adapter = try LoRAAdapter.create(for: model, configuration: config, seed: 7)
        var g = SeededGenerator(seed: 11)
        for path in adapter.layers.keys.sorted() {
            let b = adapter.layers[path]!.b
            b.value = Tensor.randomNormal(b.value.shape, std: 0.2, using: &g)
        }
        return adapter
    }

    func logits(_ model: LlamaModel, _ adapter: LoRAAdapter) throws -> [Float] {
        try adapter.attach(to: model)
        defer { model.adapters = [:] }
        return try TestModels.logits(model, ids)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ rtol: Float, _ message: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        let scale = b.map(abs).max() ?? 1
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, rtol * scale, "\(message): max diff \(worst) of \(scale)", line: line)
    }

    func testGGUFAdapterHasLlamaCppsLayoutAndRoundTripsExactly() throws {
        let model = try TestModels.tiny()
        let base = try TestModels.logits(model, ids)
        let adapter = try trained(model, Self.patterned)
        let expected = try logits(model, adapter)
        XCTAssertGreaterThan(zip(expected, base).map { abs($0 - $1) }.max()!, 0.05, "the adapter must change the logits")
        let dir = try TestModels.temporaryDirectory("gguf-adapter")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("adapter.gguf")
        try adapter.saveGGUF(to: url, base: model.configuration, baseName: "tiny")

        let file = try GGUFFile(path: url.path)
        XCTAssertEqual(file["general.type"]?.string, "adapter")
        XCTAssertEqual(file["adapter.type"]?.string, "lora")
        XCTAssertEqual(file["general.architecture"]?.string, "llama")
        XCTAssertEqual(file["adapter.lora.alpha"], .float32(8))
        XCTAssertEqual(file.tensorInfos.count, 2 * 7 * 2)
        // GGUF lists dims innermost first: lora_a [r, in] is ne = (in, r); our shapes are outermost first.
        XCTAssertEqual(file.info("blk.0.attn_q.weight.lora_a")?.shape, [4, 64])
        XCTAssertEqual(file.info("blk.0.attn_k.weight.lora_b")?.shape, [32, 4])
        XCTAssertEqual(file.info("blk.1.ffn_down.weight.lora_a")?.shape, [2, 128])
        // llama.cpp scales by alpha / r: the rest of our scale is in lora_b, and q/k rows are permuted.
        for (path, module, heads) in [("model.layers.0.self_attn.q_proj", "attn_q", 4), ("model.layers.1.self_attn.k_proj", "attn_k", 2),
                                      ("model.layers.0.self_attn.o_proj", "attn_output", 0), ("model.layers.1.mlp.down_proj", "ffn_down", 0)] {
            let layer = adapter.layers[path]!
            let fold = layer.scale * Float(layer.rank) / 8
            var b = layer.b.value
            if heads > 0 { b = try LlamaPermutation.permute(b, heads: heads) }
            let layerIndex = path.contains("layers.0") ? 0 : 1
            let stored = try file.tensor(named: "blk.\(layerIndex).\(module).weight.lora_b").floats
            assertClose(stored, b.floats.map { $0 * fold }, 1e-6, "\(module) lora_b")
            XCTAssertEqual(try file.tensor(named: "blk.\(layerIndex).\(module).weight.lora_a").floats, layer.a.value.floats)
        }
        let reloaded = try LoRAAdapter.load(from: url, for: model)
        assertClose(try logits(model, reloaded), expected, 1e-5, "reloaded GGUF adapter")
        // Saved again as PEFT, the per-module ranks keep every pair's scale alpha / r.
        let peft = dir.appendingPathComponent("peft")
        try reloaded.save(to: peft, baseModel: "tiny")
        assertClose(try logits(model, try LoRAAdapter.load(from: peft, for: model)), expected, 1e-5, "GGUF → PEFT")
        XCTAssertEqual(reloaded.configuration.parameterCount(for: model.configuration), adapter.parameterCount)
    }

    func testGGUFAdapterTypesF16BF16Q8() throws {
        let model = try TestModels.tiny()
        let adapter = try trained(model, LoRAConfiguration(rank: 4, alpha: 8, targets: ["q_proj", "v_proj", "down_proj"]))
        let expected = try logits(model, adapter)
        let dir = try TestModels.temporaryDirectory("gguf-adapter-types")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (type, rtol) in [(GGMLType.f16, Float(2e-3)), (.bf16, 2e-2), (.q8_0, 2e-2)] {
            let url = dir.appendingPathComponent("\(type).gguf")
            let fellBack = try adapter.saveGGUF(to: url, base: model.configuration, baseName: "tiny", type: type)
            let file = try GGUFFile(path: url.path)
            XCTAssertEqual(file.info("blk.0.attn_q.weight.lora_a")?.type, type)
            // lora_b rows have r = 4 columns: not a whole Q8_0 block, so F16 as convert_lora_to_gguf.py falls back.
            XCTAssertEqual(file.info("blk.0.attn_q.weight.lora_b")?.type, type == .q8_0 ? .f16 : type)
            XCTAssertEqual(fellBack.count, type == .q8_0 ? 6 : 0)
            assertClose(try logits(model, try LoRAAdapter.load(from: url, for: model)), expected, rtol, "\(type)")
        }
    }

    func testMLXAdapterHasMLXLMsLayoutAndRoundTripsExactly() throws {
        let model = try TestModels.tiny()
        var config = Self.patterned
        config.layers = [1]
        config.targets = ["q_proj", "down_proj"]
        let adapter = try trained(model, config)
        let expected = try logits(model, adapter)
        let dir = try TestModels.temporaryDirectory("mlx-adapter")
        defer { try? FileManager.default.removeItem(at: dir) }
        try adapter.saveMLX(to: dir.appendingPathComponent("mlx"), baseModel: "tiny", base: model.configuration)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("mlx/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(json["fine_tune_type"] as? String, "lora")
        XCTAssertEqual(json["num_layers"] as? Int, 1, "LoRA on the last layer only")
        let params = json["lora_parameters"] as! [String: Any]
        XCTAssertEqual(params["rank"] as? Int, 4)
        XCTAssertEqual((params["scale"] as? NSNumber)?.floatValue ?? 0, 8 / 2, accuracy: 1e-6, "alpha / √r with rsLoRA")
        XCTAssertEqual(params["keys"] as? [String], ["self_attn.q_proj", "mlp.down_proj"])
        let file = try SafetensorsFile(path: dir.appendingPathComponent("mlx/adapters.safetensors").path)
        XCTAssertEqual(Set(file.names), ["model.layers.1.self_attn.q_proj.lora_a", "model.layers.1.self_attn.q_proj.lora_b",
                                         "model.layers.1.mlp.down_proj.lora_a", "model.layers.1.mlp.down_proj.lora_b"])
        XCTAssertEqual(file.info("model.layers.1.self_attn.q_proj.lora_a")?.shape, [64, 4], "[in, r]")
        XCTAssertEqual(file.info("model.layers.1.mlp.down_proj.lora_a")?.shape, [128, 4], "rank 2 zero-padded to the file's 4")
        XCTAssertEqual(file.info("model.layers.1.mlp.down_proj.lora_b")?.shape, [4, 64], "[r, out]")
        let padded = try file.tensor("model.layers.1.mlp.down_proj.lora_a").floats
        XCTAssertEqual(stride(from: 0, to: padded.count, by: 4).map { padded[$0 + 2] + padded[$0 + 3] }.map(abs).max(), 0)
        let reloaded = try LoRAAdapter.load(from: dir.appendingPathComponent("mlx"), for: model)
        assertClose(try logits(model, reloaded), expected, 1e-5, "reloaded mlx adapter")
    }

    /// An adapter mlx_lm.lora trained and saved (scripts/check_mlx_adapters.py): on SmolLM2 it gives
    /// the loss mlx-lm computed with it on the same ids.
    func testMLXLMsOwnAdapterGivesMLXLMsLoss() throws {
        let loaded = try DataTestSupport.smolLM2()
        let dir = TestModels.fixtures.appendingPathComponent("mlx")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Any]
        let ids = (reference["ids"] as! [Int]).map(Int32.init)
        let targets = Array(ids.dropFirst()) + [-100]
        func loss() throws -> Double {
            let tape = Tape(recordsGradients: false)
            return Double(tape.value(try loaded.model.loss(tape, ids: ids, targets: targets, batch: 1, length: ids.count)).scalar)
        }
        let adapter = try LoRAAdapter.load(from: dir.appendingPathComponent("smollm2_adapter"), for: loaded.model)
        XCTAssertEqual(adapter.layers.count, 14, "7 modules on the last 2 layers")
        XCTAssertEqual(adapter.layers["model.layers.29.mlp.down_proj"]?.scale, 10)
        let base = reference["base_loss"] as! Double, adapted = reference["adapted_loss"] as! Double
        XCTAssertEqual(try loss(), base, accuracy: 1e-4 * base, "base")
        try adapter.attach(to: loaded.model)
        defer { loaded.model.adapters = [:] }
        XCTAssertEqual(try loss(), adapted, accuracy: 1e-4 * adapted, "with mlx-lm's adapter")
        XCTAssertGreaterThan(abs(adapted - base), 1e-3, "the fixture's adapter must change the loss")
    }

    func testBadAdaptersAreRefusedByName() throws {
        let model = try TestModels.tiny()
        let dir = try TestModels.temporaryDirectory("bad-adapters")
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ edit: (inout GGUFWriter) throws -> Void) throws -> URL {
            var w = GGUFWriter()
            w.set("general.architecture", .string("llama"))
            w.set("general.type", .string("adapter"))
            w.set("adapter.type", .string("lora"))
            w.set("adapter.lora.alpha", .float32(8))
            try w.add("blk.0.attn_q.weight.lora_a", Tensor(zeros: [4, 64]))
            try w.add("blk.0.attn_q.weight.lora_b", Tensor(zeros: [64, 4]))
            try edit(&w)
            let url = dir.appendingPathComponent(name)
            try w.write(to: url)
            return url
        }
        func refused(_ url: URL, _ words: [String], line: UInt = #line) {
            XCTAssertThrowsError(try LoRAAdapter.load(from: url, for: model), line: line) { e in
                for w in words { XCTAssertTrue("\(e)".contains(w), "\(e) should mention \(w)", line: line) }
            }
        }
        XCTAssertNoThrow(try LoRAAdapter.load(from: try write("good.gguf") { _ in }, for: model))
        var missingAlpha = GGUFWriter()
        missingAlpha.set("general.architecture", .string("llama"))
        missingAlpha.set("general.type", .string("adapter"))
        missingAlpha.set("adapter.type", .string("lora"))
        try missingAlpha.add("blk.0.attn_q.weight.lora_a", Tensor(zeros: [4, 64]))
        try missingAlpha.write(to: dir.appendingPathComponent("no-alpha.gguf"))
        refused(dir.appendingPathComponent("no-alpha.gguf"), ["no-alpha.gguf", "adapter.lora.alpha"])
        refused(try write("qwen.gguf") { $0.set("general.architecture", .string("qwen2")) }, ["qwen2", "llama"])
        refused(try write("model.gguf") { $0.set("general.type", .string("model")) }, ["not a LoRA adapter"])
        refused(try write("shape.gguf") { try $0.add("blk.1.attn_v.weight.lora_a", Tensor(zeros: [4, 48])); try $0.add("blk.1.attn_v.weight.lora_b", Tensor(zeros: [32, 4])) },
                ["blk.1.attn_v.weight", "[4, 48]"])
        refused(try write("half.gguf") { try $0.add("blk.1.attn_k.weight.lora_a", Tensor(zeros: [4, 64])) }, ["blk.1.attn_k.weight", "only one"])
        refused(try write("layer.gguf") { try $0.add("blk.9.attn_q.weight.lora_a", Tensor(zeros: [4, 64])); try $0.add("blk.9.attn_q.weight.lora_b", Tensor(zeros: [64, 4])) },
                ["blk.9.attn_q.weight", "not in the model"])
        refused(try write("embd.gguf") { try $0.add("token_embd.weight.lora_a", Tensor(zeros: [4, 64])) }, ["token_embd.weight", "decoder linear"])
        let notAdapter = dir.appendingPathComponent("notes.txt")
        try Data("hello".utf8).write(to: notAdapter)
        refused(notAdapter, ["notes.txt", "not an adapter"])
        // An mlx-lm folder whose rank disagrees with its tensors.
        let adapter = try trained(model, LoRAConfiguration(rank: 4, alpha: 8))
        let mlx = dir.appendingPathComponent("mlx")
        try adapter.saveMLX(to: mlx, baseModel: "tiny", base: model.configuration)
        let configURL = mlx.appendingPathComponent("adapter_config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8).replacingOccurrences(of: "\"rank\" : 4", with: "\"rank\" : 8")
        try text.write(to: configURL, atomically: true, encoding: .utf8)
        refused(mlx, ["adapters.safetensors", "rank 8"])
    }

    func testOllamaModelfile() {
        let text = OllamaModelfile(from: "/models/base model.gguf", adapter: "./adapter.gguf", stops: ["<|im_end|>", "say \"end\""],
                                   template: nil).text
        XCTAssertEqual(text, """
            FROM "/models/base model.gguf"
            ADAPTER ./adapter.gguf
            PARAMETER stop "<|im_end|>"
            PARAMETER stop "say \\"end\\""

            """)
        let withTemplate = OllamaModelfile(from: "./model.gguf", adapter: nil, stops: [], template: OllamaModelfile.chatMLTemplate).text
        XCTAssertTrue(withTemplate.hasPrefix("FROM ./model.gguf\nTEMPLATE \"\"\"{{- range .Messages }}<|im_start|>{{ .Role }}\n"))
        XCTAssertEqual(OllamaModelfile.modelName(adapterPath: "runs/My Run/adapter"), "my-run")
        XCTAssertEqual(OllamaModelfile.modelName(adapterPath: "out/veloria.gguf"), "veloria")
    }
}

/// LoRA, merge and a QLoRA (NF4) base on the newer families' tiny models: q/k norms and NoPE
/// layers stay as they are, the adapter's merge equals the attached adapter, an NF4 base
/// computes with its dequantized weights.
final class FamilyFineTuningTests: XCTestCase {
    let ids: [Int32] = [3, 17, 99, 250, 4, 8, 15, 16, 42, 7]

    func testLoRAMergeAndNF4OnQwen3SmolLM3AndPhi3() throws {
        for name in ["tiny_qwen3", "tiny_smollm3", "tiny_phi3"] {
            let folder = TestModels.llamaFixtures.appendingPathComponent(name)
            let model = try ModelLoader.loadNetwork(folder: folder)
            let adapter = try LoRAAdapter.create(for: model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 3)
            var g = SeededGenerator(seed: 5)
            for l in adapter.layers.values { l.b.value = Tensor.randomNormal(l.b.value.shape, std: 0.2, using: &g) }
            XCTAssertEqual(adapter.layers.count, 2 * model.configuration.linearModules.count, name)
            try adapter.attach(to: model)
            let adapted = try TestModels.logits(model, ids)
            model.adapters = [:]
            let merged = try LlamaModel(configuration: model.configuration, weights: try adapter.mergedWeights(of: model), source: "merged")
            let m = try TestModels.logits(merged, ids)
            XCTAssertLessThan(zip(m, adapted).map { abs($0 - $1) }.max()!, 1e-4 * adapted.map(abs).max()!, name)

            let quantize = FourBitMatrix.quantizer(type: .nf4, blockSize: 64, doubleQuant: true)
            let nf4 = try ModelLoader.loadNetwork(folder: folder, options: LoadOptions(linearQuantizer: quantize))
            let first = model.configuration.linearModules[0].path(layer: 0) + ".weight"
            XCTAssertTrue(nf4.parameter(first).value.packed is FourBitMatrix, first)
            if model.configuration.queryKeyNorm {
                XCTAssertEqual(nf4.parameter("model.layers.0.self_attn.q_norm.weight").value.floats,
                               model.parameter("model.layers.0.self_attn.q_norm.weight").value.floats, "q_norm is not a linear: not quantized")
            }
            let dequantized = try LlamaModel(configuration: nf4.configuration,
                                             weights: nf4.parameters.mapValues { $0.value.widened() }, source: "dq")
            let a = try TestModels.logits(nf4, ids), b = try TestModels.logits(dequantized, ids)
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-4 * b.map(abs).max()!, name)
        }
    }

    /// Phi-3's fused modules travel to llama.cpp (blk.N.attn_qkv / blk.N.ffn_up, architecture phi3,
    /// no q/k permutation) and mlx-lm (self_attn.qkv_proj, mlp.gate_up_proj) and back unchanged.
    func testPhi3AdapterFilesKeepTheFusedModules() throws {
        let model = try ModelLoader.loadNetwork(folder: TestModels.llamaFixtures.appendingPathComponent("tiny_phi3"))
        let adapter = try LoRAAdapter.create(for: model, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 3)
        var g = SeededGenerator(seed: 5)
        for l in adapter.layers.values { l.b.value = Tensor.randomNormal(l.b.value.shape, std: 0.2, using: &g) }
        try adapter.attach(to: model)
        let expected = try TestModels.logits(model, ids)
        model.adapters = [:]
        let dir = try TestModels.temporaryDirectory("phi3-adapters")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("adapter.gguf")
        try adapter.saveGGUF(to: url, base: model.configuration, baseName: "tiny_phi3")
        let file = try GGUFFile(path: url.path)
        XCTAssertEqual(file["general.architecture"]?.string, "phi3")
        XCTAssertEqual(file.tensorInfos.count, 2 * 4 * 2)
        XCTAssertEqual(file.info("blk.0.attn_qkv.weight.lora_b")?.shape, [128, 4], "[q + 2·kv, r]")
        XCTAssertEqual(file.info("blk.1.ffn_up.weight.lora_b")?.shape, [192, 4], "gate_up_proj is llama.cpp's ffn_up")
        XCTAssertEqual(try file.tensor(named: "blk.0.attn_qkv.weight.lora_b").floats,
                       adapter.layers["model.layers.0.self_attn.qkv_proj"]!.b.value.floats, "no permutation for phi3")
        for reloaded in [try LoRAAdapter.load(from: url, for: model),
                         try { () throws -> LoRAAdapter in
                             try adapter.saveMLX(to: dir.appendingPathComponent("mlx"), baseModel: "tiny_phi3", base: model.configuration)
                             return try LoRAAdapter.load(from: dir.appendingPathComponent("mlx"), for: model)
                         }()] {
            try reloaded.attach(to: model)
            let got = try TestModels.logits(model, ids)
            model.adapters = [:]
            XCTAssertLessThan(zip(got, expected).map { abs($0 - $1) }.max()!, 1e-5 * expected.map(abs).max()!)
        }
        let mlx = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("mlx/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual((mlx["lora_parameters"] as! [String: Any])["keys"] as? [String],
                       ["self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"])
    }
}
