// `lorikeet inspect`: what is inside a GGUF file, a safetensors file or a model folder.
import ArgumentParser
import Foundation
import ModelFormats
import Llama
import FineTuning

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show architecture, sizes, dtypes / quantization types, tensors and metadata of a GGUF, safetensors file, model folder or adapter.")

    @Argument(help: "A .gguf file (model or LoRA adapter), a .safetensors file, a model folder, an adapter folder (PEFT or mlx-lm), ollama:NAME[:TAG] or hf:ORG/NAME[/FILE.gguf][@REVISION].")
    var path: String
    @Option(name: .customLong("max-tensors"), help: "List at most this many tensors (0 = all).") var maxTensors = 40
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        if try inspectReference() { return }  // ollama: / hf: references (Inspect+Reference.swift)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CommandFailure("\(path) does not exist") }
        var report: [String: Any] = ["path": path]
        var tensors: [(String, String, [Int])] = []
        var metadata: [(String, String)] = []
        if let format = AdapterFormat.detect(URL(fileURLWithPath: path)),
           format != .gguf || (try? GGUFFile(path: path))?["general.type"]?.string == "adapter" {
            let a = try Self.adapterReport(URL(fileURLWithPath: path), format)
            report["format"] = a.format
            report["adapter"] = Dictionary(a.settings, uniquingKeysWith: { x, _ in x })
                .merging(Self.pairSummary(a.pairs).mapValues { Self.compact($0) }) { x, _ in x }
            tensors = a.tensors
            metadata = a.metadata.map { ($0.0, short($0.1)) }
        } else if isDir.boolValue {
            let url = URL(fileURLWithPath: path)
            report["format"] = "folder"
            if let c = try? LlamaConfiguration(contentsOf: url.appendingPathComponent("config.json")) {
                report["architecture"] = c.modelType
                report["configuration"] = describe(c)
            }
            let folder = try SafetensorsFolder(url: url)
            for name in folder.names { if let i = folder.info(name) { tensors.append((name, i.dtype.rawValue, i.shape)) } }
            metadata = folder.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        } else if path.hasSuffix(".safetensors") {
            let f = try SafetensorsFile(path: path)
            report["format"] = "safetensors"
            tensors = f.infos.map { ($0.name, $0.dtype.rawValue, $0.shape) }
            metadata = f.metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        } else {
            let g = try GGUFFile(path: path)
            report["format"] = "gguf v\(g.version)"
            report["architecture"] = g.architecture ?? "unknown"
            if let c = try? ModelLoader.configuration(gguf: g) { report["configuration"] = describe(c) }
            tensors = g.tensorInfos.map { ($0.name, "\($0.type.name)", $0.shape) }
            metadata = g.metadataKeys.map { k in (k, short(g.metadata[k]!.description)) }
        }
        let params = tensors.reduce(0) { $0 + $1.2.reduce(1, *) }
        var types: [String: Int] = [:]
        for t in tensors { types[t.1, default: 0] += 1 }
        report["tensor_count"] = tensors.count
        report["parameters"] = params
        report["types"] = types
        if json {
            report["tensors"] = tensors.map { ["name": $0.0, "type": $0.1, "shape": $0.2] as [String: Any] }
            report["metadata"] = Dictionary(metadata, uniquingKeysWith: { a, _ in a })
            if let origin = Inspect.originJSON { report["origin"] = try JSONSerialization.jsonObject(with: origin) }
            print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
            return
        }
        print("\(path)")
        print("  format:       \(report["format"]!)")
        if let a = report["architecture"] { print("  architecture: \(a)") }
        if let a = report["adapter"] as? [String: Any] {
            for k in a.keys.sorted() { print("    \(k): \(a[k]!)") }
        }
        if let c = report["configuration"] as? [String: Any] {
            for k in c.keys.sorted() { print("    \(k): \(c[k]!)") }
        }
        print("  parameters:   \(params) (\(String(format: "%.1f", Double(params) / 1e6)) M) in \(tensors.count) tensors")
        print("  types:        " + types.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        print("  metadata:")
        for (k, v) in metadata { print("    \(k) = \(v)") }
        print("  tensors:")
        for t in tensors.prefix(maxTensors == 0 ? tensors.count : maxTensors) { print("    \(t.0)  \(t.1)  \(t.2)") }
        if maxTensors > 0 && tensors.count > maxTensors { print("    … \(tensors.count - maxTensors) more (--max-tensors 0 lists all)") }
    }

    func describe(_ c: LlamaConfiguration) -> [String: Any] {
        ["layers": c.layerCount, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
         "heads": c.attentionHeads, "kv_heads": c.kvHeads, "head_dim": c.headDim, "vocab_size": c.vocabularySize,
         "context": c.maxPositions, "rope_theta": c.ropeTheta, "tied_embeddings": c.tieWordEmbeddings]
    }

    func short(_ s: String) -> String { s.count > 120 ? String(s.prefix(117)) + "…" : s }
}
