// A Llama-family decoder: token embedding, L pre-norm blocks (grouped-query attention with
// rotary positions, SwiGLU MLP; Phi-3 with q/k/v and gate/up fused), final RMSNorm and the
// output head (tied or not).
// Weights are Parameters named by their Hugging Face module paths; loaders fill them.
import TensorCore
import ModelFormats

/// Errors building a model from a set of named tensors.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingTensor(name: String, source: String)
    case wrongShape(name: String, shape: [Int], expected: [Int], source: String)
    case unexpectedTensor(name: String, source: String)

    public var description: String {
        switch self {
        case let .missingTensor(name, source): "\(source): tensor \(name) is missing"
        case let .wrongShape(name, shape, expected, source): "\(source): tensor \(name) has shape \(shape), expected \(expected)"
        case let .unexpectedTensor(name, source): "\(source): tensor \(name) is not part of this model"
        }
    }
}

/// A Llama-family causal language model.
public final class LlamaModel: @unchecked Sendable {
    /// The model's shape.
    public let configuration: LlamaConfiguration
    /// Every weight, by Hugging Face name (e.g. `model.layers.0.self_attn.q_proj.weight`).
    public let parameters: [String: Parameter]
    /// Adapters added to linear layers, by module path (e.g. `model.layers.0.self_attn.q_proj`).
    /// Replace the dictionary to switch adapters; the base weights stay as they are.
    public var adapters: [String: any LinearAdapter] = [:]
    /// How the KV caches of `generate` (and of the server's sequences) store keys and
    /// values: .f32 (the default) or .f16 (KVCache.dtype).
    public var kvCacheDType: DType = .f32
    let rope: RopeTable
    /// Gemma's sliding layers rotate with their own base (`rope_local_base_freq`).
    let localRope: RopeTable?
    /// LongRoPE's table for forward passes that reach past the original context (Phi-3).
    let longRope: RopeTable?
    /// Every tensor and module name of each decoder layer, built once (the forward pass looks them up).
    let layerNames: [LayerNames]

    /// Names and shapes of every tensor this configuration needs, in a stable order.
    public static func expectedTensors(_ c: LlamaConfiguration) -> [(name: String, shape: [Int])] {
        let d = c.hiddenSize
        var out: [(String, [Int])] = [("model.embed_tokens.weight", [c.vocabularySize, d])]
        for l in 0..<c.layerCount {
            let names = LayerNames(layer: l)
            func linear(_ modules: [LinearModule]) {
                for m in modules { let (o, i) = m.shape(in: c); out.append((names.weight(m), [o, i])) }
                for m in modules where m.hasBias(in: c) { out.append((names.bias(m), [m.shape(in: c).outFeatures])) }
            }
            out.append((names.inputNorm, [d]))
            linear(c.fusedProjections ? [.qkvProjection] : [.queryProjection, .keyProjection, .valueProjection])
            if c.queryKeyNorm { out.append((names.queryNorm, [c.headDim])); out.append((names.keyNorm, [c.headDim])) }
            linear([.outputProjection])
            out.append((names.postAttentionNorm, [d]))
            if c.gemma != nil { out.append((names.preFeedforwardNorm, [d])) }
            linear(c.fusedProjections ? [.gateUpProjection, .downProjection] : [.gateProjection, .upProjection, .downProjection])
            if c.gemma != nil { out.append((names.postFeedforwardNorm, [d])) }
        }
        out.append(("model.norm.weight", [d]))
        if !c.tieWordEmbeddings { out.append(("lm_head.weight", [c.vocabularySize, d])) }
        return out
    }

    /// Builds the model from named tensors (Hugging Face names). Missing tensors, wrong
    /// shapes and unknown names throw, naming `source`. Weights start frozen.
    public init(configuration: LlamaConfiguration, weights: [String: Tensor], source: String) throws {
        try configuration.validate(source: source)
        self.configuration = configuration
        var params: [String: Parameter] = [:]
        for (name, shape) in Self.expectedTensors(configuration) {
            guard let t = weights[name] else { throw ModelError.missingTensor(name: name, source: source) }
            guard t.shape == shape else { throw ModelError.wrongShape(name: name, shape: t.shape, expected: shape, source: source) }
            params[name] = Parameter(name: name, value: t, requiresGrad: false)
        }
        // A tied model may still ship lm_head.weight (a copy of the embedding): ignore it.
        for name in weights.keys where params[name] == nil && !(name == "lm_head.weight" && configuration.tieWordEmbeddings)
            && !name.hasSuffix("rotary_emb.inv_freq") {
            throw ModelError.unexpectedTensor(name: name, source: source)
        }
        parameters = params
        layerNames = (0..<configuration.layerCount).map(LayerNames.init)
        let factor = configuration.ropeAttentionFactor
        rope = RopeTable(inverseFrequencies: configuration.ropeInverseFrequencies, maxPositions: configuration.maxPositions, scale: factor)
        localRope = configuration.localRopeInverseFrequencies.map {
            RopeTable(inverseFrequencies: $0, maxPositions: configuration.maxPositions)
        }
        longRope = configuration.longRopeInverseFrequencies.map {
            RopeTable(inverseFrequencies: $0, maxPositions: configuration.maxPositions, scale: factor)
        }
    }

    /// A model with seeded random weights (uniform with standard deviation `std`; norms at identity),
    /// for tests and for measuring big shapes without their weights. With `linearQuantizer`
    /// each decoder linear is encoded right after it is drawn, so a 7B model never exists in
    /// f32 all at once; with `unquantizedDType` every other tensor is stored narrowed to it.
    public static func random(_ configuration: LlamaConfiguration, seed: UInt64, std: Float = 0.02,
                              linearQuantizer: ((String, Tensor) throws -> any PackedMatrix)? = nil,
                              unquantizedDType: DType? = nil) throws -> LlamaModel {
        var g = SeededGenerator(seed: seed)
        var weights: [String: Tensor] = [:]
        let bound = std * Float(3).squareRoot()  // U(−b, b) has standard deviation b/√3
        for (name, shape) in expectedTensors(configuration) {
            let linear = ModelLoader.isDecoderLinearWeight(name)
            // Norms start as the identity: w = 1, or w = 0 for Gemma's (1 + w) norms.
            let t = name.hasSuffix("norm.weight") ? Tensor(repeating: configuration.gemma == nil ? 1 : 0, shape: shape)
                                                  : Tensor.randomUniform(shape, low: -bound, high: bound, using: &g)
            if let linearQuantizer, linear {
                weights[name] = Tensor(packed: try linearQuantizer(name, t))
            } else if let unquantizedDType, !linear {
                weights[name] = t.narrowed(to: unquantizedDType)
            } else {
                weights[name] = t
            }
        }
        return try LlamaModel(configuration: configuration, weights: weights, source: "random(seed: \(seed))")
    }

    /// The parameter called `name`, which must exist.
    public func parameter(_ name: String) -> Parameter {
        guard let p = parameters[name] else { preconditionFailure("no parameter \(name)") }
        return p
    }

    /// The weight used as the output head (the embedding when tied).
    var headName: String { configuration.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight" }
}

/// The names of one decoder layer's tensors and modules.
struct LayerNames: Sendable {
    let inputNorm: String
    let postAttentionNorm: String
    /// Gemma only: the norms around the MLP.
    let preFeedforwardNorm: String
    let postFeedforwardNorm: String
    /// Per-head norms of q and k (Qwen3, Gemma 3; present only when the configuration has them).
    let queryNorm: String
    let keyNorm: String
    /// Module paths (model.layers.N.self_attn.q_proj …), weight and bias names, in LinearModule order.
    let paths: [String]
    let weights: [String]
    let biases: [String]

    init(layer: Int) {
        let p = "model.layers.\(layer)."
        inputNorm = p + "input_layernorm.weight"
        postAttentionNorm = p + "post_attention_layernorm.weight"
        preFeedforwardNorm = p + "pre_feedforward_layernorm.weight"
        postFeedforwardNorm = p + "post_feedforward_layernorm.weight"
        queryNorm = p + "self_attn.q_norm.weight"
        keyNorm = p + "self_attn.k_norm.weight"
        paths = LinearModule.allCases.map { $0.path(layer: layer) }
        weights = paths.map { $0 + ".weight" }
        biases = paths.map { $0 + ".bias" }
    }

    static let index: [LinearModule: Int] = Dictionary(uniqueKeysWithValues: LinearModule.allCases.enumerated().map { ($1, $0) })
    func path(_ m: LinearModule) -> String { paths[Self.index[m]!] }
    func weight(_ m: LinearModule) -> String { weights[Self.index[m]!] }
    func bias(_ m: LinearModule) -> String { biases[Self.index[m]!] }
}
