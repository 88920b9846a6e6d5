// LoRA adapters in mlx-lm's layout, both ways: adapters.safetensors with
// `model.layers.N.<self_attn|mlp>.<module>.lora_a` [in, r] and `.lora_b` [r, out] (the
// transposes of PEFT's A and B), and adapter_config.json with fine_tune_type "lora",
// num_layers (LoRA on the last N layers) and lora_parameters {rank, scale, dropout, keys}.
// mlx-lm computes y = W x + scale · (x A) B with one rank and one scale for every pair, on
// every `keys` module of the last num_layers layers, and checks each tensor's shape. So an
// adapter with other per-module ranks, scales, modules or layers is written exactly by
// folding: lora_b times (our scale / the file's scale), A and B padded with zero rows and
// columns up to the largest rank, and all-zero pairs where a covered module has none.
import Foundation
import TensorCore
import ModelFormats
import Llama

extension LoRAAdapter {
    /// Writes the adapter for a base of shape `base` as an mlx-lm adapter folder (replaced as a
    /// whole). `baseModel` goes into the config's `model` field. The file's scale is the
    /// configuration's scale for its default rank; every pair computes exactly the change it
    /// computes here.
    public func saveMLX(to url: URL, baseModel: String, base: LlamaConfiguration) throws {
        let layerCount = base.layerCount
        let rank = layers.values.map(\.rank).max() ?? configuration.rank
        let scale = configuration.alpha / (configuration.useRSLoRA ? Float(configuration.rank).squareRoot() : Float(configuration.rank))
        guard scale > 0, scale.isFinite else { throw LoRAError.invalidConfiguration("scale \(scale) cannot be written for mlx-lm") }
        let covered = layers.keys.compactMap(Self.layerIndex)
        let first = covered.min() ?? 0
        let modules = LinearModule.allCases.filter { m in layers.keys.contains { $0.hasSuffix("." + m.layerPath) } }
        var tensors: [(String, Tensor)] = []
        for layer in first..<layerCount {
            for module in modules {
                let path = module.path(layer: layer)
                let (a, b): (Tensor, Tensor)
                if let pair = layers[path] {
                    var bb = pair.b.value.widened().copied()
                    let fold = pair.scale / scale
                    if fold != 1 { bb.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= fold } } }
                    a = Self.padded(pair.a.value.widened().transposed(), columns: rank)   // [in, r]
                    b = Self.padded(bb, columns: rank).transposed()                        // [r, out]
                } else {
                    let (outF, inF) = module.shape(in: base)
                    (a, b) = (Tensor(zeros: [inF, rank]), Tensor(zeros: [rank, outF]))
                }
                tensors.append((path + ".lora_a", a))
                tensors.append((path + ".lora_b", b))
            }
        }
        let config: [String: Any] = [
            "fine_tune_type": "lora", "model": baseModel, "num_layers": layerCount - first,
            "lora_parameters": ["rank": rank, "scale": Double(scale), "dropout": Double(configuration.dropout),
                                "keys": modules.map(\.layerPath)] as [String: Any],
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.writeDirectory(at: url) { dir in
            try json.write(to: dir.appendingPathComponent("adapter_config.json"))
            try SafetensorsWriter.write(tensors, metadata: ["format": "mlx"], to: dir.appendingPathComponent("adapters.safetensors"))
        }
    }

    /// `t` ([n, c]) with zero columns appended up to `columns`.
    static func padded(_ t: Tensor, columns: Int) -> Tensor {
        let (n, c) = (t.shape[0], t.shape[1])
        guard c < columns else { return t }
        var out = Tensor(zeros: [n, columns])
        t.withUnsafeFloats { s in
            out.withUnsafeMutableFloats { d in for i in 0..<n { for j in 0..<c { d[i * columns + j] = s[i * c + j] } } }
        }
        return out
    }

    /// The decoder layer number in a module path (model.layers.N.…).
    static func layerIndex(_ path: String) -> Int? {
        let parts = path.split(separator: ".")
        return parts.count > 2 && parts[0] == "model" && parts[1] == "layers" ? Int(parts[2]) : nil
    }

    /// Reads an mlx-lm adapter folder for `model`: lora_a / lora_b transposed into A and B,
    /// every pair scaled by lora_parameters.scale. Errors name the file and tensor.
    public static func loadMLX(from url: URL, for model: LlamaModel, trainable: Bool = false) throws -> LoRAAdapter {
        let configFile = url.appendingPathComponent("adapter_config.json").path
        guard let data = FileManager.default.contents(atPath: configFile),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError.invalidAdapter(file: configFile, reason: "missing or not a JSON object (expected mlx-lm's adapter_config.json)")
        }
        let kind = json["fine_tune_type"] as? String ?? "lora"
        guard kind == "lora" else {
            throw LoRAError.invalidAdapter(file: configFile, reason: "fine_tune_type is \(kind); only mlx-lm LoRA adapters are supported")
        }
        guard let params = json["lora_parameters"] as? [String: Any], let rank = (params["rank"] as? NSNumber)?.intValue, rank > 0,
              let scale = (params["scale"] as? NSNumber)?.floatValue else {
            throw LoRAError.invalidAdapter(file: configFile, reason: "lora_parameters needs rank (a positive integer) and scale")
        }
        let dropout = (params["dropout"] as? NSNumber)?.floatValue ?? 0
        let weightsPath = url.appendingPathComponent("adapters.safetensors").path
        let file = try SafetensorsFile(path: weightsPath)
        var pairs: [String: (a: Tensor?, b: Tensor?)] = [:]
        for name in file.names {
            let isA = name.hasSuffix(".lora_a")
            guard isA || name.hasSuffix(".lora_b") else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(name) is not a LoRA tensor (.lora_a / .lora_b; DoRA's .m is not supported)")
            }
            let path = String(name.dropLast(".lora_a".count))
            let t = try file.tensor(name)
            guard t.shape.count == 2 else { throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(name) has shape \(t.shape), expected a matrix") }
            if isA { pairs[path, default: (nil, nil)].a = t.transposed() } else { pairs[path, default: (nil, nil)].b = t.transposed() }
        }
        var layers: [String: LoRALayer] = [:]
        for (path, pair) in pairs {
            guard let w = model.parameters[path + ".weight"], ModelLoader.isDecoderLinearWeight(path + ".weight") else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(path).lora_a: module \(path) is not a decoder linear of the model")
            }
            guard let a = pair.a, let b = pair.b else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "module \(path) has only one of lora_a / lora_b")
            }
            let (outF, inF) = (w.value.shape[0], w.value.shape[1])
            guard a.shape == [rank, inF], b.shape == [outF, rank] else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(path).lora_a / lora_b have shapes [\(a.shape[1]), \(a.shape[0])] / "
                    + "[\(b.shape[1]), \(b.shape[0])], expected [\(inF), \(rank)] / [\(rank), \(outF)] (rank \(rank) from adapter_config.json)")
            }
            layers[path] = LoRALayer(path: path, a: a, b: b, scale: scale, dropout: dropout, trainable: trainable)
        }
        guard !layers.isEmpty else { throw LoRAError.invalidAdapter(file: weightsPath, reason: "holds no LoRA tensors") }
        var config = LoRAConfiguration.describing(ranks: layers.mapValues(\.rank), alpha: scale * Float(rank),
                                                  layerCount: model.configuration.layerCount)
        config.dropout = dropout
        return LoRAAdapter(configuration: config, layers: layers)
    }
}
