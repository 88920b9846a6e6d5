// `lorikeet merge`: fold a LoRA adapter into the base weights and write a Hugging Face
// folder (config, safetensors, tokenizer files) that Lorikeet and transformers both load, or
// with --format gguf one GGUF file that llama.cpp, Ollama and Lorikeet load.
// The merged weights are written dequantized (f32/f16/bf16) unless --requantize asks for
// 4 bits again, which rounds the adapter's change away in part: we measure and say how much.
import ArgumentParser
import Foundation
import TensorCore
import Quantization
import Llama
import FineTuning

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA adapter into its base model and save a Hugging Face folder or a GGUF file.",
        discussion: """
        A 4-bit base (a bitsandbytes folder, or a GGUF's blocks) is dequantized and the adapter added. That \
        is the model the adapter was trained against when it trained on those same codes (a 4-bit folder, or \
        --quant keep on the GGUF); an adapter trained with --quant nf4 on a GGUF learned against NF4-rounded \
        weights instead (merge onto the `lorikeet quantize` output of that GGUF for that). --requantize stores \
        the decoder linears in 4 bits again (bitsandbytes layout), which rounds part of the adapter away.

        --format gguf writes one GGUF file (--out FILE.gguf) with every matrix in --quant's type (f16 by default; \
        1-D tensors stay f32; rows that are not whole blocks of a k-quant fall back as llama-quantize does), the \
        tokenizer and the chat template. Matrices the adapter does not touch and that are already stored in that \
        type are copied block for block.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "The adapter: a PEFT folder, a GGUF LoRA file or an mlx-lm adapter folder.") var adapter: String
    @Option(help: "The folder (or with --format gguf, the .gguf file) to write.") var out: String
    @Option(help: "safetensors (a Hugging Face folder) or gguf (one file for llama.cpp / Ollama).") var format: String = "safetensors"
    @Option(help: "Stored precision of the merged (unquantized) weights: f32, f16 or bf16.") var dtype: String = "f32"
    @Flag(help: "Quantize the merged linears to 4 bits (with --quant/--blocksize/--double-quant); loses precision.")
    var requantize = false
    @OptionGroup var fourBit: FourBitOptions
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ["safetensors", "gguf"].contains(format) else { throw ValidationError("--format must be safetensors or gguf") }
        if format == "gguf" && requantize { throw ValidationError("--requantize is for 4-bit folders; with --format gguf choose --quant") }
    }

    func run() throws {
        compute.apply()
        if format == "gguf" { return try runGGUF() }
        let storage = try storageDType(dtype)
        let outURL = try outputFolder(out, model: model.model)
        let quantize = requantize ? try fourBit.quantizer() : nil
        let source = try model.open()
        if requantize, let base = source.fourBitFolder {
            let (stored, storedDouble) = (base.type.rawValue, base.doubleQuant)
            guard stored == fourBit.fourBitName, storedDouble == fourBit.doubleQuant else {
                throw CommandFailure("\(model.model) is \(stored.uppercased()) \(storedDouble ? "with" : "without") double quantization; "
                    + "layers the adapter does not touch keep those codes, so --requantize must match: "
                    + "--quant \(stored) --\(storedDouble ? "" : "no-")double-quant")
            }
        }
        // A GGUF's quantized blocks stay as they are until each layer is written (not a whole f32 copy).
        let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), for: loaded.model)
        if let quantize {
            let (weights, ratio) = try lora.requantizedMergedWeights(of: loaded.model, quantize: quantize)
            FileHandle.standardError.write(Data(String(format:
                "warning: --requantize rounds the merged weights to %@: the rounding error is %.0f%% of the adapter's change "
                + "(root-sum-square over the merged layers). Keep the adapter, or merge without --requantize, for exact results.\n",
                fourBit.fourBitName.uppercased(), 100 * ratio).utf8))
            try ModelExport.writeFolder(weights: weights, configuration: loaded.model.configuration, source: loaded, to: outURL,
                                        dtype: storage, keepFourBit: true, metadata: ["merged_adapter": adapter])
        } else {
            // Each adapted weight is merged right before it is written: one merged layer in memory at a time.
            try ModelExport.writeFolder(weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration,
                                        source: loaded, to: outURL, dtype: storage, metadata: ["merged_adapter": adapter],
                                        adjust: lora.merged)
        }
        print("merged \(lora.layers.count) LoRA pairs into \(outURL.path) (\(requantize ? fourBit.summary + ", other tensors " : "")\(storage.rawValue))")
    }

    /// --format gguf: the merged model as one GGUF file.
    func runGGUF() throws {
        let type = try fourBit.ggmlType()
        let outURL = try outputFolder(out, model: model.model)
        let source = try model.open()
        let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
        let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter), for: loaded.model)
        let t0 = Date()
        let report = try ModelExport.writeGGUF(
            weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration, source: loaded, to: outURL,
            type: type, name: URL(fileURLWithPath: model.model).deletingPathExtension().lastPathComponent + " (merged)",
            adjusted: Set(lora.layers.keys.map { $0 + ".weight" }), adjust: lora.merged)
        printGGUFReport(report, type: type, to: outURL, since: t0)
        print("merged \(lora.layers.count) LoRA pairs")
    }
}

/// Prints what a GGUF model export stored.
func printGGUFReport(_ report: GGUFExportReport, type: GGMLType, to url: URL, since t0: Date) {
    var counts: [String: Int] = [:]
    for t in report.tensors { counts[t.type.name, default: 0] += 1 }
    let types = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    if !report.fallbacks.isEmpty {
        let shown = report.fallbacks.prefix(3).map { "\($0.name) → \($0.type.name)" }.joined(separator: ", ")
        FileHandle.standardError.write(Data(("note: \(report.fallbacks.count) matrices have rows that are not whole \(type.name) blocks "
            + "and are stored as the nearest type that fits (\(shown)\(report.fallbacks.count > 3 ? ", …" : ""))\n").utf8))
    }
    let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    print(String(format: "wrote %@ (%@; %@; %d copied as stored) in %.1f s", url.path, MemoryStats.formatBytes(size), types,
                 report.copied, Date().timeIntervalSince(t0)))
}
