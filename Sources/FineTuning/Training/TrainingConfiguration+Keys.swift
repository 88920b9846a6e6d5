// The one mapping between flag names (also the YAML keys of --config and of the run's
// saved config) and TrainingConfiguration fields. Flags and files go through `set`, so a
// key means the same everywhere, and an unknown key is an error naming it.
import Foundation

extension TrainingConfiguration {
    /// Every key `set` understands, in the order `settings` lists them.
    public static let keys = [
        "method", "rank", "alpha", "dropout", "targets", "layers", "rank-pattern", "alpha-pattern", "use-rslora", "lora-init",
        "learning-rate", "beta1", "beta2", "eps", "weight-decay", "lr-schedule", "warmup", "grad-accumulation",
        "max-grad-norm", "grad-checkpoint", "epochs", "max-steps", "batch-size", "max-seq-length", "packing",
        "train-on-inputs", "seed", "save-every", "eval-every", "keep-checkpoints", "freeze-embeddings",
        "quant", "blocksize", "double-quant", "bf16-base", "optimizer", "optimizer-state-on-disk",
    ]

    /// Sets the field named by flag `key` from a YAML/JSON/flag value; `source` names where it came from.
    public mutating func set(_ key: String, _ value: Any, source: String) throws {
        func fail(_ expected: String) -> TrainingError {
            .invalidConfiguration(key: key, reason: "\(source): expected \(expected), got \(value)")
        }
        func int() throws -> Int {
            if let i = value as? Int { return i }
            if let s = value as? String, let i = Int(s) { return i }
            if let d = value as? Double, d == d.rounded() { return Int(d) }
            throw fail("an integer")
        }
        func double() throws -> Double {
            if let d = value as? Double { return d }
            if let i = value as? Int { return Double(i) }
            if let f = value as? Float { return Double(f) }
            if let s = value as? String, let d = Double(s) { return d }
            throw fail("a number")
        }
        func bool() throws -> Bool {
            if let b = value as? Bool { return b }
            if let s = value as? String { if ["true", "yes", "1"].contains(s.lowercased()) { return true }; if ["false", "no", "0"].contains(s.lowercased()) { return false } }
            throw fail("true or false")
        }
        func strings() throws -> [String] {
            if let a = value as? [String] { return a }
            if let s = value as? String { return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            throw fail("a list or comma-separated names")
        }
        func map<V>(_ convert: (Any) -> V?) throws -> [String: V] {
            if let d = value as? [String: Any] {
                var out: [String: V] = [:]
                for (k, v) in d { guard let c = convert(v) else { throw fail("a map of numbers") }; out[k] = c }
                return out
            }
            if let s = value as? String {  // "down_proj=4,o_proj=8" on the command line
                var out: [String: V] = [:]
                for part in s.split(separator: ",") {
                    let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
                    guard kv.count == 2, let c = convert(kv[1]) else { throw fail("name=value pairs") }
                    out[kv[0]] = c
                }
                return out
            }
            throw fail("a map")
        }
        switch key {
        case "method":
            guard let s = value as? String, let m = TrainingMethod(rawValue: s) else { throw fail("lora, qlora or full") }
            method = m
        case "rank": lora.rank = try int()
        case "alpha": lora.alpha = Float(try double())
        case "dropout": lora.dropout = Float(try double())
        case "targets": lora.targets = try strings()
        case "layers": lora.layers = try strings().map { guard let i = Int($0) else { throw fail("layer numbers") }; return i }
        case "rank-pattern": lora.rankPattern = try map { ($0 as? Int) ?? ($0 as? String).flatMap { Int($0) } }
        case "alpha-pattern": lora.alphaPattern = try map { ($0 as? Double).map(Float.init) ?? ($0 as? Int).map(Float.init) ?? ($0 as? String).flatMap { Float($0) } }
        case "use-rslora": lora.useRSLoRA = try bool()
        case "lora-init":
            guard let s = value as? String, let i = LoRAInitialization(rawValue: s) else { throw fail("kaiming or gaussian") }
            lora.initialization = i
        case "learning-rate": learningRate = Float(try double())
        case "beta1": adam.beta1 = Float(try double())
        case "beta2": adam.beta2 = Float(try double())
        case "eps": adam.eps = Float(try double())
        case "weight-decay": adam.weightDecay = Float(try double())
        case "lr-schedule":
            guard let s = value as? String, let k = ScheduleKind(rawValue: s) else { throw fail("constant, linear or cosine") }
            schedule = k
        case "warmup": warmup = try double()
        case "grad-accumulation": gradientAccumulation = try int()
        case "max-grad-norm": maxGradientNorm = Float(try double())
        case "grad-checkpoint": gradientCheckpointing = try bool()
        case "epochs": epochs = try int()
        case "max-steps": maxSteps = try int()
        case "batch-size": batchSize = try int()
        case "max-seq-length": maxSequenceLength = try int()
        case "packing": packing = try bool()
        case "train-on-inputs": trainOnInputs = try bool()
        case "seed": seed = UInt64(try int())
        case "save-every": saveEvery = try int()
        case "eval-every": evalEvery = try int()
        case "keep-checkpoints": keepCheckpoints = try int()
        case "freeze-embeddings": freezeEmbeddings = try bool()
        case "quant":
            guard let s = value as? String, let q = BaseQuantization(rawValue: s) else { throw fail(BaseQuantization.allCases.map(\.rawValue).joined(separator: ", ")) }
            quantization = q
        case "optimizer":
            guard let s = value as? String, let o = OptimizerKind(rawValue: s) else { throw fail("adamw or adamw8bit") }
            optimizer = o
        case "optimizer-state-on-disk": optimizerStateOnDisk = try bool()
        case "blocksize": quantizationBlockSize = try int()
        case "double-quant": doubleQuantization = try bool()
        case "bf16-base": bf16Base = try bool()
        default:
            throw TrainingError.invalidConfiguration(key: key, reason: "\(source): unknown setting (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// The configuration as flag-name keys and plain values (for the run's saved config).
    /// Floats are written with their shortest decimal form (0.9, not 0.8999999761581421).
    public var settings: [(key: String, value: Any)] {
        func d(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        var out: [(String, Any)] = [
            ("method", method.rawValue), ("rank", lora.rank), ("alpha", d(lora.alpha)), ("dropout", d(lora.dropout)),
            ("targets", lora.targets),
        ]
        if let layers = lora.layers { out.append(("layers", layers)) }
        if !lora.rankPattern.isEmpty { out.append(("rank-pattern", lora.rankPattern)) }
        if !lora.alphaPattern.isEmpty { out.append(("alpha-pattern", lora.alphaPattern.mapValues { d($0) })) }
        out += [
            ("use-rslora", lora.useRSLoRA), ("lora-init", lora.initialization.rawValue),
            ("optimizer", optimizer.rawValue), ("optimizer-state-on-disk", optimizerStateOnDisk), ("learning-rate", d(learningRate)), ("beta1", d(adam.beta1)), ("beta2", d(adam.beta2)),
            ("eps", d(adam.eps)), ("weight-decay", d(adam.weightDecay)), ("lr-schedule", schedule.rawValue),
            ("warmup", warmup), ("grad-accumulation", gradientAccumulation), ("max-grad-norm", d(maxGradientNorm)),
            ("grad-checkpoint", gradientCheckpointing), ("epochs", epochs),
        ]
        if let maxSteps { out.append(("max-steps", maxSteps)) }
        out += [
            ("batch-size", batchSize), ("max-seq-length", maxSequenceLength), ("packing", packing),
            ("train-on-inputs", trainOnInputs), ("seed", Int(seed)), ("save-every", saveEvery), ("eval-every", evalEvery),
            ("keep-checkpoints", keepCheckpoints), ("freeze-embeddings", freezeEmbeddings),
        ]
        if method == .qlora {
            out += [("quant", quantization.rawValue), ("blocksize", quantizationBlockSize), ("double-quant", doubleQuantization)]
        }
        if method != .full { out.append(("bf16-base", bf16Base)) }
        return out
    }
}
