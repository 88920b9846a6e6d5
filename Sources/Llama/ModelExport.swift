// Writing a model as a Hugging Face folder that transformers and Lorikeet both load:
// config.json, model.safetensors (f32, f16 or bf16) and the tokenizer files — copied from a
// source folder, or generated from GGUF metadata for a GGUF source. NF4/FP4 weights can be
// kept in bitsandbytes' 4-bit layout (with `quantization_config` in config.json). The folder is
// written atomically: an existing one is replaced only once the new one is complete.
import Foundation
import TensorCore
import ModelFormats
import Tokenizers
import Quantization

/// Saves models as Hugging Face folders.
public enum ModelExport {
    /// Files copied from a source model folder when present.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                                 "generation_config.json", "tokenizer.model"]

    /// Writes `weights` (Hugging Face names) with `configuration` and the tokenizer of
    /// `source` to the folder `url`, storing floating-point tensors as `dtype`. With `keepFourBit`,
    /// weights held as NF4/FP4 (`FourBitMatrix`) are written in bitsandbytes' serialization and
    /// config.json gets its `quantization_config`; otherwise every packed weight is dequantized.
    /// `adjust`, when given, maps each floating-point weight right before it is written (a merge
    /// adds its adapter there), so only one adjusted tensor exists at a time.
    public static func writeFolder(weights: [String: Tensor], configuration: LlamaConfiguration, source: LoadedModel,
                                   to url: URL, dtype: DType = .f32, keepFourBit: Bool = false,
                                   metadata: [String: String] = [:], adjust: ((String, Tensor) throws -> Tensor)? = nil) throws {
        try AtomicFile.writeDirectory(at: url) { dir in
            try writeNetwork(weights: weights, configuration: configuration, into: dir, dtype: dtype,
                             keepFourBit: keepFourBit, metadata: metadata, adjust: adjust)
            if let gguf = source.source.gguf {
                try TokenizerExport.write(try ModelLoader.tokenizerData(gguf: gguf), to: dir,
                                          modelMaxLength: configuration.maxPositions)
            } else {
                // The tokenizer files the source already read are written from memory; the rest are copied.
                let read = ["tokenizer.json": source.source.tokenizerJSON, "tokenizer_config.json": source.source.tokenizerConfigJSON]
                let src = source.source.url
                for f in tokenizerFiles {
                    if let bytes = read[f] ?? nil {
                        try bytes.write(to: dir.appendingPathComponent(f))
                    } else if read[f] == nil, FileManager.default.fileExists(atPath: src.appendingPathComponent(f).path) {
                        // Resolved first: in a hub cache snapshot the file is a relative link into blobs/.
                        try FileManager.default.copyItem(at: src.appendingPathComponent(f).resolvingSymlinksInPath(),
                                                         to: dir.appendingPathComponent(f))
                    }
                }
            }
        }
    }

    /// Writes config.json and model.safetensors for `weights` into the existing folder `dir`
    /// (`writeFolder` without the tokenizer files and without the atomic swap).
    public static func writeNetwork(weights: [String: Tensor], configuration: LlamaConfiguration, into dir: URL,
                                    dtype: DType = .f32, keepFourBit: Bool = false, metadata: [String: String] = [:],
                                    adjust: ((String, Tensor) throws -> Tensor)? = nil) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw ConfigurationError.invalid(field: "dtype", reason: "must be f32, f16 or bf16", source: dir.path)
        }
        var entries: [(name: String, dtype: DType, shape: [Int])] = []
        var fourBitTensors: [String: Tensor] = [:]
        var fourBit: [String: FourBitMatrix] = [:]
        for name in weights.keys.sorted() {
            if name == "lm_head.weight" && configuration.tieWordEmbeddings { continue }
            let t = weights[name]!
            if keepFourBit, let m = t.packed as? FourBitMatrix {
                fourBit[name] = m
                for (n, v) in try BitsAndBytes4Bit.tensors(for: m, name: name) {
                    fourBitTensors[n] = v
                    entries.append((n, v.dtype, v.shape))
                }
            } else {
                entries.append((name, dtype, t.shape))
            }
        }
        var quantization: [String: Any]?
        if let (firstName, first) = fourBit.min(by: { $0.key < $1.key }) {
            let double: (FourBitMatrix) -> Bool = { if case .doubleQuantized = $0.absmax { true } else { false } }
            for (name, m) in fourBit where m.type != first.type || double(m) != double(first) {
                throw ConfigurationError.invalid(field: "quantization", reason: "\(name) is \(m.encoding) and \(firstName) is "
                    + "\(first.encoding) (double quantization \(double(m)) vs \(double(first))): one folder holds one 4-bit scheme",
                    source: dir.path)
            }
            quantization = BitsAndBytes4Bit.quantizationConfig(type: first.type, doubleQuant: double(first))
        }
        var meta = metadata
        meta["format"] = "pt"
        try configuration.huggingFaceJSON(dtype: dtype, quantizationConfig: quantization)
            .write(to: dir.appendingPathComponent("config.json"))
        try SafetensorsWriter.write(entries, metadata: meta, to: dir.appendingPathComponent("model.safetensors")) { name in
            if let t = fourBitTensors[name] { return t }
            var t = weights[name]!
            if let adjust { t = try adjust(name, t) }
            return dtype == .f32 ? t.widened() : t.widened().narrowed(to: dtype)
        }
    }
}
