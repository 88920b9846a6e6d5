// `lorikeet inspect` on an adapter — a PEFT folder, an mlx-lm folder or a GGUF LoRA file —
// without a base model: its scale settings and which modules of which layers have pairs of
// which rank, read from the files themselves.
import Foundation
import ModelFormats
import Llama
import FineTuning

extension Inspect {
    /// What an adapter holds: `settings` from its config or metadata, and per pair its module
    /// path and rank. `tensors` lists the file's tensors for the common part of the report.
    struct AdapterReport {
        var format: String
        var settings: [(String, String)]
        var pairs: [(path: String, rank: Int)]
        var tensors: [(String, String, [Int])]
        var metadata: [(String, String)]
    }

    /// Reads the adapter at `url` (already detected as `format`).
    static func adapterReport(_ url: URL, _ format: AdapterFormat) throws -> AdapterReport {
        switch format {
        case .gguf:
            let g = try GGUFFile(path: url.path)
            var pairs: [(String, Int)] = []
            for info in g.tensorInfos where info.name.hasSuffix(".lora_a") {
                let base = String(info.name.dropLast(".lora_a".count))
                let path = LlamaTensorNames.huggingFaceName(forGGUF: base).map { String($0.dropLast(".weight".count)) } ?? base
                pairs.append((path, info.shape.first ?? 0))
            }
            return AdapterReport(format: "GGUF v\(g.version) LoRA adapter (llama.cpp)",
                                 settings: [("architecture", g.architecture ?? "?"),
                                            ("adapter.lora.alpha", g["adapter.lora.alpha"]?.description ?? "missing")],
                                 pairs: pairs, tensors: g.tensorInfos.map { ($0.name, $0.type.name, $0.shape) },
                                 metadata: g.metadataKeys.map { ($0, g.metadata[$0]!.description) })
        case .peft, .mlx:
            let configURL = url.appendingPathComponent("adapter_config.json")
            let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: configURL))) as? [String: Any] ?? [:]
            let weights = url.appendingPathComponent(format == .mlx ? "adapters.safetensors" : "adapter_model.safetensors")
            let file = try SafetensorsFile(path: weights.path)
            var pairs: [(String, Int)] = []
            for info in file.infos {
                if format == .mlx, info.name.hasSuffix(".lora_a") {
                    pairs.append((String(info.name.dropLast(".lora_a".count)), info.shape.last ?? 0))
                } else if format == .peft, info.name.hasSuffix(".lora_A.weight") {
                    pairs.append((String(info.name.dropFirst("base_model.model.".count).dropLast(".lora_A.weight".count)), info.shape.first ?? 0))
                }
            }
            let keys = format == .mlx ? ["fine_tune_type", "num_layers", "lora_parameters", "model"]
                                      : ["r", "lora_alpha", "use_rslora", "target_modules", "rank_pattern", "alpha_pattern",
                                         "layers_to_transform", "lora_dropout", "base_model_name_or_path"]
            let settings = keys.compactMap { k in json[k].map { (k, compact($0)) } }
            return AdapterReport(format: format == .mlx ? "mlx-lm LoRA adapter folder" : "PEFT LoRA adapter folder",
                                 settings: settings, pairs: pairs.sorted { $0.0 < $1.0 },
                                 tensors: file.infos.map { ($0.name, $0.dtype.rawValue, $0.shape) },
                                 metadata: file.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }

    /// A JSON value on one line (`[…]`, `{…}` or the scalar).
    static func compact(_ v: Any) -> String {
        if v is NSNull { return "null" }
        if JSONSerialization.isValidJSONObject(v), let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]) {
            return String(decoding: d, as: UTF8.self)
        }
        return "\(v)"
    }

    /// "q_proj, v_proj in layers 0–29 (30), rank 8 (down_proj: 4)".
    static func pairSummary(_ pairs: [(path: String, rank: Int)]) -> [String: Any] {
        var modules: [String: Int] = [:], layers = Set<Int>(), ranks: [Int: Int] = [:]
        for p in pairs {
            let parts = p.path.split(separator: ".")
            modules[String(parts.last ?? ""), default: 0] += 1
            if parts.count > 2, let l = Int(parts[2]) { layers.insert(l) }
            ranks[p.rank, default: 0] += 1
        }
        return ["pairs": pairs.count, "modules": modules.keys.sorted(), "layers": layers.sorted(),
                "ranks": Dictionary(uniqueKeysWithValues: ranks.map { (String($0.key), $0.value) })]
    }
}
