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
    @Option(help: "4-bit code table: nf4 or fp4.") var quant: String = "nf4"
    @Option(help: "Weights per absmax block: 32, 64, 128, …, 4096.") var blocksize: Int = 64
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "Quantize the absmax values to 8 bits too, as QLoRA does.")
    var doubleQuant = true

    /// Encodes one f32 weight with these settings; throws a usage error for a bad table or block size.
    func quantizer() throws -> @Sendable (String, Tensor) throws -> FourBitMatrix {
        guard let type = FourBitType(rawValue: quant) else { throw ValidationError("--quant must be nf4 or fp4, not \(quant)") }
        guard FourBitType.allowedBlockSizes.contains(blocksize) else {
            throw ValidationError("--blocksize must be one of \(FourBitType.allowedBlockSizes.map(String.init).joined(separator: ", "))")
        }
        return FourBitMatrix.quantizer(type: type, blockSize: blocksize, doubleQuant: doubleQuant)
    }

    /// "NF4, blocks of 64, double-quantized absmax".
    var summary: String { "\(quant.uppercased()), blocks of \(blocksize), \(doubleQuant ? "double-quantized" : "float32") absmax" }
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
        abstract: "Write a model with 4-bit (NF4/FP4) linear weights as a Hugging Face folder in bitsandbytes' format.",
        discussion: """
        Every decoder linear (q/k/v/o, gate/up/down) is quantized as bitsandbytes' quantize_4bit does (bit for \
        bit); embeddings, norms and the output head are stored as --dtype. transformers loads the folder with \
        bitsandbytes installed, and `lorikeet train --method qlora --model OUT` trains on it without quantizing again.
        """)

    @OptionGroup var model: ModelOption
    @Option(help: "The folder to write (replaced only once complete).") var out: String
    @OptionGroup var fourBit: FourBitOptions
    @Option(help: "Stored precision of the unquantized tensors: bf16, f16 or f32.") var dtype: String = "bf16"
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let storage = try storageDType(dtype)
        let outURL = try outputFolder(out, model: model.model)
        let source = try model.open()
        if source.fourBitFolder != nil {
            throw CommandFailure("\(model.model) is already a 4-bit folder; quantize the unquantized model instead")
        }
        let t0 = Date()
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
}
