// LoRA settings with PEFT's meaning: rank r, alpha, dropout, which linear modules get a
// pair (names or "all-linear"), which layers, per-module rank/alpha patterns, rsLoRA
// scaling and the initialisation of A. Module names match PEFT: a target name matches a
// module whose path equals it or ends with "." + name; pattern keys are regexes matched
// against the end of the path, after a dot or at the start.
import Foundation
import ModelFormats
import Llama

/// How A is initialised (B always starts at zero, so the adapted model equals the base).
public enum LoRAInitialization: String, Codable, Sendable {
    /// Kaiming-uniform with a = √5: U(−1/√in, 1/√in) (PEFT's default, `init_lora_weights=True`).
    case kaiming
    /// Normal with std 1/r (PEFT's `init_lora_weights="gaussian"`).
    case gaussian
}

/// Which modules, with which rank and scale, get LoRA pairs.
public struct LoRAConfiguration: Codable, Equatable, Sendable {
    /// Default rank r.
    public var rank: Int = 8
    /// Default alpha (scale = alpha / r, or alpha / √r with rsLoRA).
    public var alpha: Float = 16
    /// Dropout on the adapter's input during training.
    public var dropout: Float = 0
    /// Module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj) or ["all-linear"].
    public var targets: [String] = ["q_proj", "v_proj"]
    /// Only these decoder layers (nil = all).
    public var layers: [Int]?
    /// Per-module rank overrides: regex key → r.
    public var rankPattern: [String: Int] = [:]
    /// Per-module alpha overrides: regex key → alpha.
    public var alphaPattern: [String: Float] = [:]
    /// Scale by alpha/√r instead of alpha/r.
    public var useRSLoRA = false
    /// Initialisation of A.
    public var initialization: LoRAInitialization = .kaiming

    /// Creates a configuration (defaults: r 8, alpha 16, q_proj and v_proj).
    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, targets: [String] = ["q_proj", "v_proj"],
                layers: [Int]? = nil, rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:],
                useRSLoRA: Bool = false, initialization: LoRAInitialization = .kaiming) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.layers = layers
        self.rankPattern = rankPattern
        self.alphaPattern = alphaPattern
        self.useRSLoRA = useRSLoRA
        self.initialization = initialization
    }

    /// The linear modules of a Llama or Phi-3 block, by PEFT name.
    public static let linearModules = LinearModule.allCases.map(\.name)

    /// Throws on a value PEFT would refuse or that cannot work.
    public func validate() throws {
        guard rank > 0 else { throw LoRAError.invalidConfiguration("rank must be positive, got \(rank)") }
        guard dropout >= 0, dropout < 1 else { throw LoRAError.invalidConfiguration("dropout must be in [0, 1), got \(dropout)") }
        guard !targets.isEmpty else { throw LoRAError.invalidConfiguration("no target modules") }
        for t in targets where t != "all-linear" && !Self.linearModules.contains(where: { $0 == t || $0.hasSuffix("." + t) || t.hasSuffix($0) }) {
            throw LoRAError.invalidConfiguration("unknown target module '\(t)' (expected one of \(Self.linearModules.joined(separator: ", ")) or all-linear)")
        }
        for (k, r) in rankPattern where r <= 0 { throw LoRAError.invalidConfiguration("rank_pattern[\(k)] must be positive") }
        for k in Array(rankPattern.keys) + Array(alphaPattern.keys) where (try? NSRegularExpression(pattern: k)) == nil {
            throw LoRAError.invalidConfiguration("pattern '\(k)' is not a valid regular expression")
        }
    }

    /// Whether the module at `path` (e.g. model.layers.3.self_attn.q_proj) gets a pair.
    public func targets(path: String) -> Bool {
        let parts = path.split(separator: ".")
        guard parts.count >= 4, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else { return false }
        if let layers, !layers.contains(layer) { return false }
        if targets.contains("all-linear") { return Self.linearModules.contains(String(parts.last!)) }
        return targets.contains { path == $0 || path.hasSuffix("." + $0) }
    }

    /// The rank of the module at `path` (rank_pattern first, else `rank`).
    public func rank(path: String) -> Int { Self.match(rankPattern, path) ?? rank }

    /// The alpha of the module at `path` (alpha_pattern first, else `alpha`).
    public func alpha(path: String) -> Float { Self.match(alphaPattern, path) ?? alpha }

    /// The output scale of the module at `path`.
    public func scale(path: String) -> Float {
        let r = Float(rank(path: path))
        return alpha(path: path) / (useRSLoRA ? r.squareRoot() : r)
    }

    /// Adapter weights this configuration adds to a model of shape `model` (no weights needed).
    public func parameterCount(for model: LlamaConfiguration) -> Int {
        var total = 0
        for layer in 0..<model.layerCount {
            for module in model.linearModules {
                let path = module.path(layer: layer)
                let (outF, inF) = module.shape(in: model)
                if targets(path: path) { total += rank(path: path) * (inF + outF) }
            }
        }
        return total
    }

    /// PEFT's rule: the first key (in sorted order, for determinism) whose regex matches
    /// the end of the path preceded by a dot or the start.
    static func match<V>(_ patterns: [String: V], _ path: String) -> V? {
        for key in patterns.keys.sorted() {
            guard let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$") else { continue }
            if re.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil { return patterns[key] }
        }
        return nil
    }
}

/// Errors of LoRA configuration and adapter files.
public enum LoRAError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)
    /// An adapter file is unreadable or inconsistent with the model; names the file and tensor.
    case invalidAdapter(file: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(m): "LoRA configuration: \(m)"
        case let .invalidAdapter(file, reason): "\(file): \(reason)"
        }
    }
}
