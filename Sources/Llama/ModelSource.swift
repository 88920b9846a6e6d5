// A model path (or an `ollama:` / `hf:` reference, resolved to one) inspected once: which
// format it is, its configuration, how its weights are stored and where its tokenizer comes
// from. What it opened (the mapped GGUF or safetensors shards, the bytes of config.json,
// tokenizer.json and tokenizer_config.json) stays inside it, so the estimator, the loader,
// training, merge and export read what it found instead of opening the files again to ask
// what they are.
import Foundation
import TensorCore
import ModelFormats
import Quantization
import ModelStores

/// A bitsandbytes 4-bit folder's `quantization_config`, typed.
public struct FourBitFolderConfiguration: Sendable, Equatable {
    /// nf4 or fp4 (`bnb_4bit_quant_type`).
    public var type: FourBitType
    /// Whether the absmax values are quantized too (`bnb_4bit_use_double_quant`).
    public var doubleQuant: Bool

    /// Reads a config.json's `quantization_config`: nil when it has none, the typed value for
    /// bitsandbytes 4-bit, an error naming the scheme for any other pre-quantized checkpoint
    /// (8-bit bitsandbytes, GPTQ, AWQ, …).
    static func read(configJSON data: Data, source: String) throws -> FourBitFolderConfiguration? {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let q = root["quantization_config"] as? [String: Any] else { return nil }
        let method = q["quant_method"] as? String ?? "unknown"
        guard method == "bitsandbytes", q["load_in_4bit"] as? Bool == true else {
            let scheme = method == "bitsandbytes" ? "bitsandbytes 8-bit" : method
            throw ConfigurationError.invalid(field: "quantization_config", reason: "\(scheme) checkpoints are not supported "
                + "(Lorikeet reads bitsandbytes 4-bit NF4/FP4 folders and unquantized ones)", source: source)
        }
        let name = q["bnb_4bit_quant_type"] as? String ?? "fp4"  // bitsandbytes' default
        guard let type = FourBitType(rawValue: name) else {
            throw ConfigurationError.invalid(field: "quantization_config.bnb_4bit_quant_type", reason: "'\(name)' is not nf4 or fp4",
                                             source: source)
        }
        return FourBitFolderConfiguration(type: type, doubleQuant: q["bnb_4bit_use_double_quant"] as? Bool ?? false)
    }
}

/// A model on disk, inspected once.
public struct ModelSource: @unchecked Sendable {
    /// The file layouts Lorikeet reads.
    public enum Format: String, Sendable, Equatable {
        /// A Hugging Face folder: config.json, tokenizer.json, *.safetensors (sharded or not).
        case safetensorsFolder = "safetensors"
        /// One GGUF file.
        case gguf
    }

    /// How the weights are stored.
    public enum Storage: Sendable, Equatable {
        /// Floating-point tensors of these dtypes (safetensors), viewed in place.
        case dense(bytesPerWeight: Double)
        /// A GGUF file; `linearType` is the block type of the first decoder linear.
        case ggml(bytesPerWeight: Double, linearType: GGMLType?)
        /// A bitsandbytes 4-bit folder: NF4/FP4 linears, the rest as stored.
        case bitsAndBytes4Bit(FourBitFolderConfiguration, bytesPerWeight: Double)

        /// Bytes per weight of the files' mapped data.
        public var bytesPerWeight: Double {
            switch self {
            case let .dense(b), let .ggml(b, _), let .bitsAndBytes4Bit(_, b): b
            }
        }
    }

    /// The folder or file opened: the path as given, or where a reference resolved to.
    public let path: String
    /// Folder or GGUF.
    public let format: Format
    /// The model's shape (config.json or GGUF metadata).
    public let configuration: LlamaConfiguration
    /// How the weights are stored.
    public let storage: Storage
    /// The mapped GGUF file (GGUF sources).
    public let gguf: GGUFFile?
    /// The mapped safetensors shards (folder sources).
    public let safetensors: SafetensorsFolder?
    /// The bytes of tokenizer.json (folder sources that have one).
    public let tokenizerJSON: Data?
    /// The bytes of tokenizer_config.json (folder sources that have one).
    public let tokenizerConfigJSON: Data?
    /// Where the model came from: a path, an Ollama manifest or a Hugging Face cache snapshot.
    public internal(set) var origin: ModelOrigin = .path

    /// The base model's name for adapter files (`base_model_name_or_path`): `ORG/NAME` for a
    /// hub model, as PEFT expects, else the path.
    public var baseModelName: String {
        if case let .huggingFace(snapshot) = origin, snapshot.reference.file == nil { return snapshot.reference.repository }
        return path
    }

    /// The folder's URL (folder sources) or the file's.
    public var url: URL { URL(fileURLWithPath: path) }

    /// The 4-bit folder's quantization, when the folder is one.
    public var fourBitFolder: FourBitFolderConfiguration? {
        if case let .bitsAndBytes4Bit(q, _) = storage { return q }
        return nil
    }

    /// Opens and inspects the model `reference` names: a Hugging Face folder or a `.gguf` file,
    /// or `ollama:NAME[:TAG]` / `hf:ORG/NAME[/FILE.gguf][@REVISION]` (see `ModelResolver`;
    /// `environment` locates the stores, `progress` hears about hub downloads). Throws naming
    /// the path when it is missing or not a model Lorikeet reads.
    public static func open(_ reference: String, environment: ModelStoreEnvironment = ModelStoreEnvironment(),
                            progress: DownloadProgressHandler? = nil) throws -> ModelSource {
        try open(ModelResolver(environment: environment, progress: progress).resolve(reference))
    }

    /// Opens a resolved model, keeping where it came from.
    public static func open(_ resolved: ResolvedModel) throws -> ModelSource {
        var source = try open(path: resolved.path)
        source.origin = resolved.origin
        return source
    }

    static func open(path: String) throws -> ModelSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError.invalid(field: "model", reason: "does not exist", source: path)
        }
        return isDirectory.boolValue ? try openFolder(path) : try openGGUF(path)
    }

    static func openFolder(_ path: String) throws -> ModelSource {
        let url = URL(fileURLWithPath: path)
        let configURL = url.appendingPathComponent("config.json")
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw ConfigurationError.invalid(field: "config.json", reason: "cannot be read (\(error.localizedDescription))", source: configURL.path)
        }
        let configuration = try LlamaConfiguration(json: data, source: configURL.path)
        let fourBit = try FourBitFolderConfiguration.read(configJSON: data, source: configURL.path)
        let folder = try SafetensorsFolder(url: url)
        var bytes = 0, count = 0
        for name in folder.names {
            if let i = folder.info(name) { bytes += i.dtype.byteSize * i.shape.reduce(1, *); count += i.shape.reduce(1, *) }
        }
        // A 4-bit folder stores two weights per byte plus companions: count weights from the config.
        if fourBit != nil { count = configuration.parameterCount }
        let perWeight = count > 0 ? Double(bytes) / Double(count) : 2
        let storage: Storage = fourBit.map { .bitsAndBytes4Bit($0, bytesPerWeight: perWeight) } ?? .dense(bytesPerWeight: perWeight)
        return ModelSource(path: path, format: .safetensorsFolder, configuration: configuration, storage: storage, gguf: nil,
                           safetensors: folder, tokenizerJSON: try? Data(contentsOf: url.appendingPathComponent("tokenizer.json")),
                           tokenizerConfigJSON: try? Data(contentsOf: url.appendingPathComponent("tokenizer_config.json")))
    }

    static func openGGUF(_ path: String) throws -> ModelSource {
        let gguf = try GGUFFile(path: path)
        let configuration = try ModelLoader.configuration(gguf: gguf)
        let fileBytes = gguf.tensorInfos.reduce(0) { $0 + $1.byteCount }
        let linear = configuration.linearModules[0].ggufWeightName(layer: 0)
        let storage = Storage.ggml(bytesPerWeight: Double(fileBytes) / Double(max(configuration.parameterCount, 1)),
                                   linearType: gguf.info(linear)?.type)
        return ModelSource(path: path, format: .gguf, configuration: configuration, storage: storage, gguf: gguf,
                           safetensors: nil, tokenizerJSON: nil, tokenizerConfigJSON: nil)
    }
}
