// A model found in the Ollama store: its manifest's layers, checked, with the small ones read.
import Foundation

/// A model of the Ollama store, its blobs checked against the manifest.
public struct OllamaModel: Sendable, Equatable {
    /// The name as found in the store (its case may differ from the one asked for).
    public let name: OllamaModelName
    /// The store's folder (`OLLAMA_MODELS`).
    public let store: URL
    /// The manifest file.
    public let manifest: URL
    /// Every layer, in manifest order.
    public let layers: [OllamaLayer]
    /// The model layer: the GGUF file Lorikeet opens.
    public let model: OllamaLayer
    /// The prompt template (Go template syntax, as Ollama runs it), when the manifest has one.
    public let template: String?
    /// The default system message, when there is one.
    public let system: String?
    /// Default generation parameters (`stop`, `temperature`, …), each value as JSON text.
    public let parameters: [String: String]
    /// What the config blob says about the model, when it can be read.
    public let info: OllamaModelInfo?

    /// LoRA adapter layers (GGUF adapters Ollama applies on top of the model).
    public var adapters: [OllamaLayer] { layers.filter { $0.kind == .adapter } }
    /// The GGUF file of the model layer.
    public var ggufURL: URL { model.url }
}
