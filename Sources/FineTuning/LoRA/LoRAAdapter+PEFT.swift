// Adapter files in the PEFT layout, so Python users can load them with
// `PeftModel.from_pretrained(base, dir)`: adapter_config.json + adapter_model.safetensors
// with keys `base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`. Reading
// honours r, lora_alpha, use_rslora, rank_pattern and alpha_pattern.
import Foundation
import TensorCore
import ModelFormats
import Llama

extension LoRAAdapter {
    /// Writes the adapter to the folder `url` atomically (the folder is replaced as a whole).
    public func save(to url: URL, baseModel: String) throws {
        let c = configuration
        let targets = c.targets.contains("all-linear") ? LoRAConfiguration.linearModules : c.targets
        var json: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": baseModel,
            "r": c.rank, "lora_alpha": Double(c.alpha), "lora_dropout": Double(c.dropout),
            "target_modules": targets.sorted(), "bias": "none", "use_rslora": c.useRSLoRA,
            "rank_pattern": c.rankPattern, "alpha_pattern": c.alphaPattern.mapValues { Double($0) },
            "init_lora_weights": c.initialization == .gaussian ? "gaussian" as Any : true as Any,
            "fan_in_fan_out": false, "inference_mode": true, "use_dora": false,
            "modules_to_save": NSNull(), "revision": NSNull(), "layers_to_transform": NSNull(),
        ]
        if let layers = c.layers { json["layers_to_transform"] = layers }
        let config = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        let tensors = parameters.map { ($0.name, $0.value) }
        try AtomicFile.writeDirectory(at: url) { dir in
            try config.write(to: dir.appendingPathComponent("adapter_config.json"))
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: dir.appendingPathComponent("adapter_model.safetensors"))
        }
    }

    /// Reads a PEFT LoRA adapter folder for `model`. Errors name the file and tensor.
    public static func loadPEFT(from url: URL, for model: LlamaModel, trainable: Bool = false) throws -> LoRAAdapter {
        let configURL = url.appendingPathComponent("adapter_config.json")
        let configFile = configURL.path
        guard let data = FileManager.default.contents(atPath: configFile) else {
            throw LoRAError.invalidAdapter(file: configFile, reason: "missing (expected a PEFT adapter folder)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoRAError.invalidAdapter(file: configFile, reason: "is not a JSON object")
        }
        if let type = json["peft_type"] as? String, type != "LORA" {
            throw LoRAError.invalidAdapter(file: configFile, reason: "peft_type is \(type), only LORA is supported")
        }
        if json["use_dora"] as? Bool == true {
            throw LoRAError.invalidAdapter(file: configFile, reason: "DoRA adapters (use_dora) are not supported")
        }
        guard let r = json["r"] as? Int, r > 0 else { throw LoRAError.invalidAdapter(file: configFile, reason: "r is missing or not a positive integer") }
        let alpha = (json["lora_alpha"] as? NSNumber)?.floatValue ?? Float(r)
        var config = LoRAConfiguration(rank: r, alpha: alpha, dropout: (json["lora_dropout"] as? NSNumber)?.floatValue ?? 0,
                                       useRSLoRA: json["use_rslora"] as? Bool ?? false)
        if let t = json["target_modules"] as? [String] { config.targets = t }
        else if let t = json["target_modules"] as? String { config.targets = [t] }
        config.rankPattern = (json["rank_pattern"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
        config.alphaPattern = (json["alpha_pattern"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.floatValue }
        config.layers = json["layers_to_transform"] as? [Int]

        let weightsPath = url.appendingPathComponent("adapter_model.safetensors").path
        let file = try SafetensorsFile(path: weightsPath)
        var pairs: [String: (a: Tensor?, b: Tensor?)] = [:]
        for name in file.names {
            guard name.hasPrefix("base_model.model."), name.hasSuffix(".weight") else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(name) is not a LoRA weight (base_model.model.<module>.lora_A/B.weight)")
            }
            var stem = String(name.dropFirst("base_model.model.".count).dropLast(".weight".count))
            if stem.hasSuffix(".default") { stem = String(stem.dropLast(".default".count)) }
            let which: String
            if stem.hasSuffix(".lora_A") { which = "A" } else if stem.hasSuffix(".lora_B") { which = "B" } else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(name) is not supported (only lora_A / lora_B)")
            }
            let path = String(stem.dropLast(".lora_A".count))
            let t = try file.tensor(name).widened().copied()
            if which == "A" { pairs[path, default: (nil, nil)].a = t } else { pairs[path, default: (nil, nil)].b = t }
        }
        var layers: [String: LoRALayer] = [:]
        for (path, pair) in pairs {
            guard let w = model.parameters[path + ".weight"] else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "module \(path) is not in the model")
            }
            guard let a = pair.a, let b = pair.b else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "module \(path) has only one of lora_A / lora_B")
            }
            let (outF, inF) = (w.value.shape[0], w.value.shape[1])
            let rank = a.shape.first ?? 0
            guard a.shape == [rank, inF], b.shape == [outF, rank], rank > 0 else {
                throw LoRAError.invalidAdapter(file: weightsPath,
                    reason: "tensor \(LoRALayer.key(path, "A")) / lora_B have shapes \(a.shape) / \(b.shape), expected [r, \(inF)] / [\(outF), r]")
            }
            let expected = config.rank(path: path)
            guard expected == rank else {
                throw LoRAError.invalidAdapter(file: weightsPath, reason: "tensor \(LoRALayer.key(path, "A")) has rank \(rank), adapter_config.json says \(expected)")
            }
            layers[path] = LoRALayer(path: path, a: a, b: b, scale: config.scale(path: path), dropout: config.dropout, trainable: trainable)
        }
        guard !layers.isEmpty else { throw LoRAError.invalidAdapter(file: weightsPath, reason: "holds no LoRA tensors") }
        return LoRAAdapter(configuration: config, layers: layers)
    }
}
