// `lorikeet quantize`: store a model's decoder linears in 4 bits (NF4/FP4, bitsandbytes'
// scheme and serialization) as a Hugging Face folder that transformers + bitsandbytes and
// Lorikeet both load without quantizing again. Also the options `merge --requantize` shares.
import ArgumentParser
import Foundation
import TensorCore
import Quantization
import Llama

/// --quant / --blocksize / --double-quant for writing a 4-bit folder.
struct FourBitOptions: ParsableArguments {
    @Option(help: "The stored type: nf4 or fp4 for a 4-bit folder (default nf4; quantize also takes f32/f16/bf16 for a plain folder); with --format gguf one of f32, f16 (default), bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k.")
    var quant: String?
    @Option(help: "Weights per absmax block: 32, 64, 128, …, 4096.") var blocksize: Int = 64
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "Quantize the absmax values to 8 bits too, as QLoRA does.")
    var doubleQuant = true

    /// Encodes one f32 weight with these settings; throws a usage error for a bad table or block size.
    func quantizer() throws -> @Sendable (String, Tensor) throws -> FourBitMatrix {
        guard let type = FourBitType(rawValue: fourBitName) else { throw ValidationError("--quant must be nf4 or fp4, not \(fourBitName)") }
        guard FourBitType.allowedBlockSizes.contains(blocksize) else {
            throw ValidationError("--blocksize must be one of \(FourBitType.allowedBlockSizes.map(String.init).joined(separator: ", "))")
        }
        return FourBitMatrix.quantizer(type: type, blockSize: blocksize, doubleQuant: doubleQuant)
    }

    /// The 4-bit table asked for (nf4 when --quant is not given).
    var fourBitName: String { quant ?? "nf4" }

    /// The GGML type --quant names for a GGUF file (f16 when not given).
    func ggmlType() throws -> GGMLType {
        let name = quant ?? "f16"
        guard let t = GGMLType(name: name), ModelExport.ggufModelTypes.contains(t) else {
            throw ValidationError("--quant for --format gguf must be one of "
                + ModelExport.ggufModelTypes.map { $0.name.lowercased() }.joined(separator: ", ") + ", not \(name)")
        }
        return t
    }

    /// "NF4, blocks of 64, double-quantized absmax".
    var summary: String { "\(fourBitName.uppercased()), blocks of \(blocksize), \(doubleQuant ? "double-quantized" : "float32") absmax" }
}

/// The --out folder of a command that writes a model, refusing the input model's own path
/// (the folder is replaced as a whole once written).
func outputFolder(_ out: String, model: String) throws -> URL {
    let url = URL(fileURLWithPath: out)
    if url.standardizedFileURL.path == URL(fileURLWithPath: model).standardizedFileURL.path {
        throw ValidationError("--out must not be the input model's own path")
    }
    return url
}

/// --dtype for the tensors a 4-bit folder keeps unquantized.
func storageDType(_ name: String) throws -> DType {
    guard let d = DType(rawValue: name), [.f32, .f16, .bf16].contains(d) else { throw ValidationError("--dtype must be f32, f16 or bf16") }
    return d
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model with 4-bit (NF4/FP4) linears as a bitsandbytes folder, or as a GGUF file in any GGML type.",
        discussion: """
        Every decoder linear (q/k/v/o, gate/up/down) is quantized as bitsandbytes' quantize_4bit does (bit for \
        bit); embeddings, norms and the output head are stored as --dtype. transformers loads the folder with \
        bitsandbytes installed, and `lorikeet train --method qlora --model OUT` trains on it without quantizing again.

        --format gguf writes one GGUF file (--out FILE.gguf) that llama.cpp and Ollama load: every matrix in --quant's \
        type (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k; the same bytes as ggml's reference \
        quantizers), 1-D tensors in f32, the tokenizer and chat template. This converts a Hugging Face folder to GGUF.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "The folder (or with --format gguf, the .gguf file) to write, replaced only once complete.") var out: String
    @Option(help: "safetensors (a bitsandbytes 4-bit folder) or gguf.") var format: String = "safetensors"
    @OptionGroup var fourBit: FourBitOptions
    @Option(help: "Stored precision of the unquantized tensors: bf16, f16 or f32.") var dtype: String = "bf16"
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ["safetensors", "gguf"].contains(format) else { throw ValidationError("--format must be safetensors or gguf") }
    }

    func run() throws {
        compute.apply()
        if format == "gguf" { return try runGGUF() }
        let storage = try storageDType(dtype)
        let outURL = try outputFolder(out, model: model.model)
        let source = try model.open()
        if source.fourBitFolder != nil {
            throw CommandFailure("\(model.model) is already a 4-bit folder; quantize the unquantized model instead")
        }
        let t0 = Date()
        if let plain = fourBit.quant.flatMap(DType.init(rawValue:)), [.f32, .f16, .bf16].contains(plain) {
            // --quant f32/f16/bf16: a plain Hugging Face folder (e.g. a GGUF's weights for transformers or mlx-lm).
            let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
            try ModelExport.writeFolder(weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration,
                                        source: loaded, to: outURL, dtype: plain, metadata: ["converted_from": loaded.path])
            print(String(format: "wrote %@ (%@ weights) in %.1f s", outURL.path, plain.rawValue, Date().timeIntervalSince(t0)))
            return
        }
        let quantize = try fourBit.quantizer()
        let loaded = try ModelLoader.load(source, options: LoadOptions(linearQuantizer: quantize))
        let weights = loaded.model.parameters.mapValues(\.value)
        try ModelExport.writeFolder(weights: weights, configuration: loaded.model.configuration, source: loaded, to: outURL,
                                    dtype: storage, keepFourBit: true, metadata: ["quantized_from": loaded.path])
        let fourBitWeights = weights.values.compactMap { $0.packed as? FourBitMatrix }
        let packedBytes = fourBitWeights.reduce(0) { $0 + $1.byteCount }
        let widenedBytes = fourBitWeights.reduce(0) { $0 + $1.count * storage.byteSize }
        print("quantized \(fourBitWeights.count) linear weights (\(fourBit.summary)): "
              + "\(MemoryStats.formatBytes(widenedBytes)) as \(storage.rawValue) -> \(MemoryStats.formatBytes(packedBytes))")
        print(String(format: "wrote %@ in %.1f s", outURL.path, Date().timeIntervalSince(t0)))
    }

    /// --format gguf: the model as one GGUF file of --quant's type.
    func runGGUF() throws {
        let type = try fourBit.ggmlType()
        let outURL = try outputFolder(out, model: model.model)
        let source = try model.open()
        if source.fourBitFolder != nil {
            throw CommandFailure("\(model.model) is a bitsandbytes 4-bit folder; GGUF has no NF4 type, convert the unquantized model")
        }
        let t0 = Date()
        let loaded = try ModelLoader.load(source, options: LoadOptions(keepGGUFBlocks: source.format == .gguf))
        let report = try ModelExport.writeGGUF(
            weights: loaded.model.parameters.mapValues(\.value), configuration: loaded.model.configuration, source: loaded, to: outURL,
            type: type, name: URL(fileURLWithPath: model.model).deletingPathExtension().lastPathComponent)
        printGGUFReport(report, type: type, to: outURL, since: t0)
    }
}
