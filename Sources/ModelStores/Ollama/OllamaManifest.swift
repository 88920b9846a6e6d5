// The layers of an Ollama manifest (an OCI-style image manifest: `config` plus `layers`, each
// a media type, a `sha256:<hex>` digest and a size), typed by what they hold. The model layer
// is a GGUF file; adapter layers are GGUF LoRA adapters; template, system, params, messages and
// license layers are small text or JSON blobs, read here so `inspect` can show them.
import Foundation

/// One layer of an Ollama manifest.
public struct OllamaLayer: Sendable, Equatable {
    /// What a layer holds, by media type.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// The model weights, a GGUF file (`application/vnd.ollama.image.model`).
        case model
        /// A LoRA adapter, a GGUF file (`…adapter`).
        case adapter
        /// A multimodal projector (`…projector`).
        case projector
        /// The prompt template, Go template text (`…template`).
        case template
        /// The default system message (`…system`).
        case system
        /// Default generation parameters, JSON (`…params`).
        case parameters
        /// Seed messages, JSON (`…messages`).
        case messages
        /// License text (`…license`).
        case license
        /// Any other media type.
        case other(String)

        static let prefix = "application/vnd.ollama.image."
        private static let named: [(String, Kind)] = [("model", .model), ("adapter", .adapter), ("projector", .projector),
                                                      ("template", .template), ("system", .system), ("params", .parameters),
                                                      ("messages", .messages), ("license", .license)]

        /// The kind a media type names.
        public init(mediaType: String) {
            let suffix = mediaType.hasPrefix(Self.prefix) ? String(mediaType.dropFirst(Self.prefix.count)) : ""
            self = Self.named.first { $0.0 == suffix }?.1 ?? .other(mediaType)
        }

        /// The media type in the manifest.
        public var mediaType: String {
            if case let .other(t) = self { return t }
            return Self.prefix + Self.named.first { $0.1 == self }!.0
        }

        /// The last word of the media type (`model`, `params`, …).
        public var description: String {
            if case let .other(t) = self { return t }
            return Self.named.first { $0.1 == self }!.0
        }

        /// Small text layers whose contents are read with the manifest.
        var isText: Bool { [.template, .system, .parameters, .messages, .license].contains(self) }
    }

    /// What the layer holds.
    public let kind: Kind
    /// `sha256:<64 hex>`.
    public let digest: String
    /// Size in bytes, as the manifest gives it.
    public let size: Int64
    /// The blob file, `blobs/sha256-<hex>`.
    public let url: URL
}

/// The parts of the manifest's config blob worth showing (`model_format`, `model_family`, …).
public struct OllamaModelInfo: Sendable, Equatable {
    /// `gguf` for the models Lorikeet reads.
    public var format: String?
    /// e.g. `llama`, `qwen2`.
    public var family: String?
    /// Parameter count as Ollama spells it, e.g. `135M`.
    public var parameterSize: String?
    /// Quantization of the weights, e.g. `Q8_0`.
    public var fileType: String?
}

/// The JSON of a manifest file.
struct OllamaManifestJSON: Decodable {
    struct Layer: Decodable {
        let mediaType: String
        let digest: String
        let size: Int64
    }
    let schemaVersion: Int?
    let config: Layer?
    let layers: [Layer]
}

/// The JSON of the config blob, the fields shown.
struct OllamaConfigJSON: Decodable {
    let model_format: String?
    let model_family: String?
    let model_type: String?
    let file_type: String?
}
