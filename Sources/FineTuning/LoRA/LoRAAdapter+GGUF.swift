// LoRA adapters as GGUF files, the way llama.cpp's convert_lora_to_gguf.py writes them and
// llama.cpp (`--lora`, `lora_path`) and Ollama (`ADAPTER`) read them: general.type "adapter",
// adapter.type "lora", adapter.lora.alpha, and for each adapted base tensor
// `<base GGUF name>.lora_a` ([r, in]: GGUF dims in, r) and `.lora_b` ([out, r]). For `llama`
// bases the rows of lora_b of attn_q / attn_k get llama.cpp's q/k permutation, as the base
// weights did. llama.cpp scales every pair by alpha / r with the file's one alpha and the pair's
// own r; where our scale differs (rsLoRA, alpha_pattern) the difference is folded into lora_b.
import Foundation
import TensorCore
import Quantization
import ModelFormats
import Llama

extension LoRAAdapter {
    /// The element types a GGUF adapter can be written in (convert_lora_to_gguf.py's --outtype).
    public static let ggufTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0]

    /// The one `adapter.lora.alpha` a GGUF file gets: the configuration's alpha.
    var ggufAlpha: Float { configuration.alpha }

    /// The factor folded into lora_b of the pair at `path` so that llama.cpp's alpha / r
    /// equals our scale: scale · r / alpha (exactly 1 for plain LoRA without patterns).
    func ggufFold(_ layer: LoRALayer) -> Float {
        let llamaCppScale = ggufAlpha / Float(layer.rank)
        return layer.scale == llamaCppScale ? 1 : layer.scale * Float(layer.rank) / ggufAlpha
    }

    /// Writes the adapter as a GGUF LoRA file for a base of shape `base` named `baseName`.
    /// Tensors are stored as `type` (f32, f16, bf16 or q8_0; a Q8_0 tensor whose rows are not
    /// whole 32-element blocks, such as lora_b with r = 16, is stored as F16 instead, as
    /// convert_lora_to_gguf.py does). Returns the names of tensors stored as F16 that way.
    @discardableResult
    public func saveGGUF(to url: URL, base: LlamaConfiguration, baseName: String, type: GGMLType = .f32) throws -> [String] {
        guard Self.ggufTypes.contains(type) else {
            throw LoRAError.invalidConfiguration("a GGUF adapter is stored as f32, f16, bf16 or q8_0, not \(type)")
        }
        guard ggufAlpha > 0, ggufAlpha.isFinite else {
            throw LoRAError.invalidConfiguration("alpha \(ggufAlpha) cannot be written as adapter.lora.alpha (must be positive)")
        }
        var w = GGUFWriter()
        w.set("general.architecture", .string(base.ggufArchitecture))
        w.set("general.type", .string("adapter"))
        w.set("general.name", .string(baseName + " LoRA"))
        w.set("adapter.type", .string("lora"))
        w.set("adapter.lora.alpha", .float32(ggufAlpha))
        var fellBack: [String] = []
        for path in layers.keys.sorted(by: Self.modelOrder) {
            let layer = layers[path]!
            guard let (ggufName, module) = Self.ggufWeightName(path: path, architecture: base.ggufArchitecture) else {
                throw LoRAError.invalidConfiguration("module \(path) has no GGUF tensor name")
            }
            var b = layer.b.value.widened()
            let fold = ggufFold(layer)
            if fold != 1 { b = b.copied(); b.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= fold } } }
            if base.ggufPermutesQueryKey, let projection = module.permutation {
                b = try LlamaPermutation.permute(b, heads: base.permutationHeads(projection))
            }
            for (suffix, t) in [(".lora_a", layer.a.value.widened()), (".lora_b", b)] {
                let name = ggufName + suffix
                let stored = type.blockSize > 1 && (t.shape.last ?? 0) % type.blockSize != 0 ? GGMLType.f16 : type
                if stored != type { fellBack.append(name) }
                try w.add(name, t, as: stored)
            }
        }
        try w.write(to: url)
        return fellBack
    }

    /// Reads a GGUF LoRA adapter for `model`. The file must say general.type "adapter",
    /// adapter.type "lora", carry adapter.lora.alpha and match the model's architecture and
    /// shapes; errors name the file and tensor. Each pair's scale is alpha / r as in llama.cpp.
    public static func loadGGUF(from url: URL, for model: LlamaModel, trainable: Bool = false) throws -> LoRAAdapter {
        let file = url.path
        let gguf = try GGUFFile(path: file)
        func bad(_ reason: String) -> LoRAError { .invalidAdapter(file: file, reason: reason) }
        guard gguf["general.type"]?.string == "adapter" else {
            let kind = gguf["general.type"]?.string ?? "missing"
            throw bad("general.type is \(kind), not \"adapter\": this GGUF is not a LoRA adapter (a model goes to --model)")
        }
        guard let kind = gguf["adapter.type"]?.string, kind == "lora" else {
            throw bad("adapter.type is \(gguf["adapter.type"]?.string ?? "missing"), only \"lora\" adapters are supported")
        }
        guard let alpha = gguf["adapter.lora.alpha"]?.float else { throw bad("adapter.lora.alpha is missing") }
        let c = model.configuration
        let arch = gguf.architecture ?? "missing"
        guard arch == c.ggufArchitecture else {
            throw bad("general.architecture is \(arch), the model is \(c.ggufArchitecture) (\(c.modelType))")
        }
        var pairs: [String: (a: Tensor?, b: Tensor?)] = [:]
        for name in gguf.tensorNames {
            let which: String
            if name.hasSuffix(".lora_a") { which = "a" } else if name.hasSuffix(".lora_b") { which = "b" } else {
                throw bad("tensor \(name) is not a LoRA tensor (<base tensor>.lora_a / .lora_b)")
            }
            let baseName = String(name.dropLast(".lora_a".count))
            guard let hf = LlamaTensorNames.huggingFaceName(forGGUF: baseName, architecture: arch), ModelLoader.isDecoderLinearWeight(hf) else {
                throw bad("tensor \(name): \(baseName) is not a decoder linear weight Lorikeet adapts")
            }
            let path = String(hf.dropLast(".weight".count))
            var t = try gguf.tensor(named: name).copied()
            if which == "b", c.ggufPermutesQueryKey, let projection = LlamaTensorNames.permutation(forGGUF: baseName) {
                t = try LlamaPermutation.unpermute(t, heads: c.permutationHeads(projection))
            }
            if which == "a" { pairs[path, default: (nil, nil)].a = t } else { pairs[path, default: (nil, nil)].b = t }
        }
        var layers: [String: LoRALayer] = [:]
        var ranks: [String: Int] = [:]
        for (path, pair) in pairs {
            let ggufName = ggufWeightName(path: path, architecture: arch)?.name ?? path
            guard let a = pair.a, let b = pair.b else { throw bad("\(ggufName) has only one of lora_a / lora_b") }
            guard let w = model.parameters[path + ".weight"] else { throw bad("\(ggufName): module \(path) is not in the model") }
            let (outF, inF) = (w.value.shape[0], w.value.shape[1])
            let r = a.shape.first ?? 0
            guard a.shape.count == 2, b.shape.count == 2, a.shape == [r, inF], b.shape == [outF, r], r > 0 else {
                throw bad("tensor \(ggufName).lora_a / .lora_b have shapes \(a.shape) / \(b.shape) (outermost first), "
                          + "expected [r, \(inF)] / [\(outF), r] for this model")
            }
            ranks[path] = r
            layers[path] = LoRALayer(path: path, a: a, b: b, scale: alpha == 0 ? 1 : alpha / Float(r), dropout: 0, trainable: trainable)
        }
        guard !layers.isEmpty else { throw bad("holds no LoRA tensors") }
        return LoRAAdapter(configuration: .describing(ranks: ranks, alpha: alpha, layerCount: c.layerCount), layers: layers)
    }

    /// (GGUF weight name, module) of the module at HF `path` in a model of llama.cpp's
    /// `architecture`, e.g. blk.3.attn_q.weight (Phi-3's qkv_proj: blk.3.attn_qkv.weight).
    static func ggufWeightName(path: String, architecture: String) -> (name: String, module: LinearModule)? {
        guard let name = LlamaTensorNames.ggufName(forHuggingFace: path + ".weight", architecture: architecture),
              let module = LinearModule(name: String(path.split(separator: ".").last ?? "")) else { return nil }
        return (name, module)
    }

    /// Module paths in model order (layer, then q, k, v, o, gate, up, down; Phi-3: qkv, o, gate_up, down), as files list them.
    static func modelOrder(_ x: String, _ y: String) -> Bool {
        func key(_ p: String) -> (Int, Int) {
            let module = LinearModule.allCases.firstIndex { p.hasSuffix("." + $0.name) } ?? 0
            return (layerIndex(p) ?? 0, module)
        }
        return key(x) < key(y)
    }
}

extension LinearModule {
    /// The q/k permutation llama.cpp applies to this module's rows, if any.
    var permutation: LlamaPermutation.Projection? {
        switch self {
        case .queryProjection: .query
        case .keyProjection: .key
        default: nil
        }
    }
}

extension LoRAConfiguration {
    /// The configuration of pairs read from a file with per-module ranks and one alpha:
    /// the commonest rank as `rank`, the others as exact-path rank_pattern entries, targets and
    /// layers as found (nil when every one of `layerCount` has a pair). Saved again as PEFT it gives every pair the same scale alpha / r.
    static func describing(ranks: [String: Int], alpha: Float, layerCount: Int, useRSLoRA: Bool = false) -> LoRAConfiguration {
        var counts: [Int: Int] = [:]
        for r in ranks.values { counts[r, default: 0] += 1 }
        let rank = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 8
        var c = LoRAConfiguration(rank: rank, alpha: alpha, useRSLoRA: useRSLoRA)
        c.targets = Array(Set(ranks.keys.compactMap { $0.split(separator: ".").last.map(String.init) })).sorted()
        for (path, r) in ranks where r != rank { c.rankPattern[NSRegularExpression.escapedPattern(for: path)] = r }
        let layers = Set(ranks.keys.compactMap(LoRAAdapter.layerIndex))
        c.layers = layers.count == layerCount ? nil : layers.sorted()
        return c
    }
}
