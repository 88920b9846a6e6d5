// A set of LoRA pairs for one model: created fresh with PEFT's initialisation, attached
// to (or detached from) a model, merged into its weights, and counted the way PEFT's
// `print_trainable_parameters` counts.
import Foundation
import TensorCore
import Quantization
import ModelFormats
import Llama

/// All LoRA pairs of one adapter.
public final class LoRAAdapter: @unchecked Sendable {
    /// The settings the pairs were made with (or read from adapter_config.json).
    public let configuration: LoRAConfiguration
    /// The pairs by module path.
    public let layers: [String: LoRALayer]

    /// Wraps existing pairs.
    public init(configuration: LoRAConfiguration, layers: [String: LoRALayer]) {
        self.configuration = configuration
        self.layers = layers
    }

    /// Fresh pairs for every targeted linear of `model`: A as configured, B = 0.
    public static func create(for model: LlamaModel, configuration: LoRAConfiguration, seed: UInt64) throws -> LoRAAdapter {
        try configuration.validate()
        var g = SeededGenerator(seed: seed)
        var layers: [String: LoRALayer] = [:]
        for path in linearPaths(model) where configuration.targets(path: path) {
            let w = model.parameter(path + ".weight").value
            let (outF, inF) = (w.shape[0], w.shape[1])
            let r = configuration.rank(path: path)
            let a: Tensor
            switch configuration.initialization {
            case .kaiming:
                let bound = 1 / Float(inF).squareRoot()
                a = Tensor.randomUniform([r, inF], low: -bound, high: bound, using: &g)
            case .gaussian:
                a = Tensor.randomNormal([r, inF], std: 1 / Float(r), using: &g)
            }
            layers[path] = LoRALayer(path: path, a: a, b: Tensor(zeros: [outF, r]),
                                     scale: configuration.scale(path: path), dropout: configuration.dropout)
        }
        guard !layers.isEmpty else {
            let modules = model.configuration.linearModules.map(\.name).joined(separator: ", ")
            throw LoRAError.invalidConfiguration("targets \(configuration.targets) match no module of this model (its modules: \(modules), or all-linear)")
        }
        return LoRAAdapter(configuration: configuration, layers: layers)
    }

    /// Module paths of every linear layer of the decoder blocks, in model order.
    public static func linearPaths(_ model: LlamaModel) -> [String] {
        (0..<model.configuration.layerCount).flatMap { l in model.configuration.linearModules.map { $0.path(layer: l) } }
    }

    /// Every A and B, sorted by name (a stable order for optimizers and files).
    public var parameters: [Parameter] {
        layers.keys.sorted().flatMap { [layers[$0]!.a, layers[$0]!.b] }
    }

    /// Number of adapter weights.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Puts these pairs on `model` (replacing any attached adapter).
    public func attach(to model: LlamaModel) throws {
        for (path, layer) in layers {
            guard let w = model.parameters[path + ".weight"] else {
                throw LoRAError.invalidConfiguration("module \(path) is not in the model")
            }
            guard layer.a.value.shape[1] == w.value.shape[1], layer.b.value.shape[0] == w.value.shape[0] else {
                throw LoRAError.invalidConfiguration("pair for \(path) has A \(layer.a.value.shape) / B \(layer.b.value.shape), the weight is \(w.value.shape)")
            }
        }
        model.adapters = layers
    }

    /// W + s·B·A for every adapted module, as f32 tensors under the weight names.
    public func mergedWeights(of model: LlamaModel) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, p) in model.parameters { out[name] = try merged(name, p.value) }
        return out
    }

    /// `weight` (the model's tensor called `name`) with this adapter folded in: W + s·B·A as f32
    /// when `name` is an adapted module's weight, else `weight` unchanged. One tensor at a time,
    /// so a writer can merge while it writes (`ModelExport.writeFolder(adjust:)`).
    public func merged(_ name: String, _ weight: Tensor) throws -> Tensor {
        guard name.hasSuffix(".weight"), let layer = layers[String(name.dropLast(".weight".count))] else { return weight }
        var w = weight.widened().copied()
        let d = try layer.delta()
        w.withUnsafeMutableFloats { wp in d.withUnsafeFloats { dp in for i in wp.indices { wp[i] += dp[i] } } }
        return w
    }

    /// The merged weights with every adapted decoder linear, and every one not already NF4/FP4,
    /// re-encoded by `quantize`,
    /// and how much of the adapter the rounding loses: the root-sum-square of (requantized −
    /// merged) over the adapted layers, divided by that of the adapter's change s·B·A. Layers
    /// are merged and quantized one at a time: only one merged f32 layer exists at once.
    public func requantizedMergedWeights(of model: LlamaModel, quantize: (String, Tensor) throws -> FourBitMatrix)
        throws -> (weights: [String: Tensor], roundingToChange: Double) {
        var weights: [String: Tensor] = [:]
        var rounding = 0.0, change = 0.0
        for name in model.parameters.keys.sorted() {
            let base = model.parameter(name).value
            let adapted = layers[String(name.dropLast(".weight".count))] != nil
            // Untouched NF4/FP4 layers keep their codes; every other decoder linear is encoded anew.
            guard ModelLoader.isDecoderLinearWeight(name), adapted || !(base.packed is FourBitMatrix) else {
                weights[name] = try merged(name, base)
                continue
            }
            let merged = try merged(name, base).widened()
            let q = try quantize(name, merged)
            weights[name] = Tensor(packed: q)
            guard let layer = layers[String(name.dropLast(".weight".count))] else { continue }
            let back = q.dequantized(), delta = try layer.delta()
            merged.withUnsafeFloats { m in
                back.withUnsafeFloats { b in
                    delta.withUnsafeFloats { d in
                        for i in m.indices {
                            rounding += Double(b[i] - m[i]) * Double(b[i] - m[i])
                            change += Double(d[i]) * Double(d[i])
                        }
                    }
                }
            }
        }
        return (weights, change > 0 ? (rounding / change).squareRoot() : 0)
    }
}

/// Trainable and total parameter counts as PEFT prints them.
public struct ParameterSummary: Sendable, Equatable {
    public var trainable: Int
    public var total: Int
    /// 100 · trainable / total.
    public var percentage: Double { total == 0 ? 0 : 100 * Double(trainable) / Double(total) }

    /// "trainable params: 4,884,480 || all params: 139,399,488 || trainable%: 3.5040".
    public var description: String {
        "trainable params: \(Self.grouped(trainable)) || all params: \(Self.grouped(total)) || trainable%: \(String(format: "%.4f", percentage))"
    }

    /// `n` with thousands separated by commas, as Python's `f"{n:,}"` (PEFT's printout).
    public static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(c) }
        return String(out.reversed())
    }

    /// Creates a summary.
    public init(trainable: Int, total: Int) {
        self.trainable = trainable
        self.total = total
    }
}
