// Where settings come from and how they combine. A run's saved config.json, a YAML --config
// file and the command line each give a `TrainingSettings` — the keys that source sets,
// checked against TrainingConfiguration's types as it is read, so a mistake names the source
// (file:line for YAML). `TrainingConfiguration.resolve` lays them over the defaults in one
// fixed order (saved run < file < command line) and validates the result once.
import Foundation
import Yams
import TensorCore

/// Where a set of settings came from.
public enum SettingsSource: Sendable, Equatable, CustomStringConvertible {
    /// A run's saved config.json (resuming), at this path.
    case savedRun(path: String)
    /// A YAML settings file.
    case file(path: String)
    /// The command line.
    case commandLine
    /// Code that built the settings, named as given.
    case program(String)

    public var description: String {
        switch self {
        case let .savedRun(path), let .file(path): path
        case .commandLine: "the command line"
        case let .program(name): name
        }
    }
}

/// The settings one source gives: a key → value map over TrainingConfiguration's keys.
public struct TrainingSettings: Sendable, Equatable {
    /// Where these settings came from.
    public let source: SettingsSource
    /// The values by setting name (`learning-rate`, `rank`, …).
    public private(set) var values: [String: SettingValue]
    /// The line of each key in a YAML file (1-based).
    let lines: [String: Int]

    /// Settings from `values`; throws naming the source when a key is unknown or a value
    /// does not fit its setting's type.
    public init(_ values: [String: SettingValue], source: SettingsSource) throws {
        try self.init(values: values, source: source, lines: [:])
    }

    init(values: [String: SettingValue], source: SettingsSource, lines: [String: Int]) throws {
        self.source = source
        self.values = values
        self.lines = lines
        let known = Set(TrainingConfiguration.CodingKeys.allCases.map(\.rawValue))
        for key in values.keys.sorted() where !known.contains(key) {
            throw TrainingError.invalidSetting(key: key, source: location(of: key), reason: "is unknown (known: "
                + TrainingConfiguration.CodingKeys.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        _ = try TrainingConfiguration().overlaid(by: [self])  // each value decodes into its field
    }

    /// Settings from a YAML mapping of setting names to values.
    public init(yaml text: String, path: String) throws {
        let source = SettingsSource.file(path: path)
        try Self.checkNesting(text, path: path)
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw TrainingError.invalidSetting(key: "(file)", source: path, reason: "is not valid YAML: \(error)")
        }
        if let node { try Self.checkYAML(node, path: path) }
        guard let root = (node?.any ?? [String: Any]()) as? [String: Any] else {
            throw TrainingError.invalidSetting(key: "(file)", source: path, reason: "must be a mapping of setting names to values")
        }
        var lines: [String: Int] = [:]
        if let mapping = node?.mapping {
            for (k, _) in mapping { if let name = k.string, let mark = k.mark { lines[name] = mark.line } }
        }
        var values: [String: SettingValue] = [:]
        for (k, v) in root {
            guard let s = SettingValue(v) else {
                throw TrainingError.invalidSetting(key: k, source: lines[k].map { "\(path):\($0)" } ?? path, reason: "has a value of unsupported form")
            }
            values[k] = s
        }
        try self.init(values: values, source: source, lines: lines)
    }

    /// Values a settings file may hold in all (a real one has tens): aliases can make a small
    /// file a tree of millions.
    static let maximumYAMLNodes = 10_000

    /// Yams' composer recurses once per nesting level: `[[[[…` or `- - - - …` some thousands
    /// deep overflows the stack. Nesting is bounded from the text before parsing: flow
    /// depth by the number of `[` and `{` (quoted ones too), block depth by the longest run of
    /// leading spaces and indicators (`- `, `? `, `: `) on a line. A settings file has a handful.
    static let maximumYAMLNesting = 100

    static func checkNesting(_ text: String, path: String) throws {
        var opens = 0
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lead = line.utf8.prefix { " -?:\t".utf8.contains($0) }.count
            opens += line.utf8.lazy.filter { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "{") }.count
            guard lead <= maximumYAMLNesting, opens <= maximumYAMLNesting else {
                throw TrainingError.invalidSetting(key: "(file)", source: "\(path):\(i + 1)", reason: lead > maximumYAMLNesting
                    ? "is indented or nested more than \(maximumYAMLNesting) levels deep"
                    : "opens more than \(maximumYAMLNesting) lists or mappings ('[' / '{'); a settings file needs a few")
            }
        }
    }

    /// Refuses what Yams' constructor cannot take, before it runs: it traps on a mapping key
    /// that is not a scalar (`{a: 1}: 2`, `[x]: 1`, found by Fuzz/LorikeetFuzz), and expands
    /// aliases without limit.
    static func checkYAML(_ root: Node, path: String) throws {
        var left = maximumYAMLNodes
        func visit(_ node: Node) throws {
            left -= 1
            guard left >= 0 else {
                throw TrainingError.invalidSetting(key: "(file)", source: path,
                                                   reason: "holds more than \(maximumYAMLNodes) values (aliases expanding?)")
            }
            switch node {
            case .scalar(let scalar):
                guard node.tag == Tag(.int), scalar.string.contains(":"), !sexagesimalFits(scalar.string) else { return }
                throw TrainingError.invalidSetting(key: "(file)", source: scalar.mark.map { "\(path):\($0.line)" } ?? path,
                                                   reason: "has \(scalar.string), a base-60 integer (YAML 1.1, as in 1:30) too large for an Int")
            case .sequence(let items): for item in items { try visit(item) }
            case .mapping(let pairs):
                for (key, value) in pairs {
                    guard case .scalar = key else {
                        throw TrainingError.invalidSetting(key: "(file)", source: key.mark.map { "\(path):\($0.line)" } ?? path,
                                                           reason: "has a list or a mapping as a key (keys are setting names)")
                    }
                    try visit(value)
                }
            }
        }
        try visit(root)
    }

    /// Whether Yams can compute the YAML 1.1 base-60 integer `text` (`1:30:00`): it multiplies
    /// in Int, scaling by 60 after every part, and traps on overflow (found by FuzzTrainingSettings).
    /// This mirrors that arithmetic with overflow checks; a part that is not a plain integer
    /// counts as not fitting.
    static func sexagesimalFits(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        var (base, value) = (1, 0)
        for part in digits.split(separator: ":", omittingEmptySubsequences: false).reversed() {
            guard let digit = Int(part) else { return false }
            let (term, o1) = digit.multipliedReportingOverflow(by: base)
            let (sum, o2) = value.addingReportingOverflow(term)
            let (next, o3) = base.multipliedReportingOverflow(by: 60)
            guard !o1, !o2, !o3 else { return false }
            (base, value) = (next, sum)
        }
        return true
    }

    /// Settings from a run's saved config.json (its `base-model` entry is not a setting).
    public init(savedRun data: Data, path: String) throws {
        let object: [String: SettingValue]
        do { object = try JSONDecoder().decode([String: SettingValue].self, from: data) } catch {
            throw TrainingError.invalidCheckpoint(path: path, reason: "not a JSON object of settings: \(error)")
        }
        try self.init(values: object.filter { $0.key != TrainingRun.baseModelKey }, source: .savedRun(path: path), lines: [:])
    }

    /// Where `key` was set: "run.yaml:3", a saved run's path, "the command line".
    public func location(of key: String) -> String {
        if case let .file(path) = source, let line = lines[key] { return "\(path):\(line)" }
        return source.description
    }
}

extension TrainingConfiguration {
    /// The configuration from the defaults overlaid by a saved run's settings, then a
    /// settings file's, then the command line's (later sources win), validated once.
    public static func resolve(savedRun: TrainingSettings? = nil, file: TrainingSettings? = nil,
                               commandLine: TrainingSettings? = nil) throws -> TrainingConfiguration {
        let layers = [savedRun, file, commandLine].compactMap { $0 }
        let c = try TrainingConfiguration().overlaid(by: layers)
        try c.validate { key in layers.last { $0.values[key.rawValue] != nil }?.location(of: key.rawValue) }
        return c
    }

    /// This configuration with each layer's values replacing its own, in order (not validated).
    public func overlaid(by layers: [TrainingSettings]) throws -> TrainingConfiguration {
        var merged = try settingValues(all: true)
        var origin: [String: TrainingSettings] = [:]
        for layer in layers {
            for (k, v) in layer.values {
                merged[k] = Self.scalar(v, for: k)
                origin[k] = layer
            }
        }
        do {
            return try JSONDecoder().decode(TrainingConfiguration.self, from: JSONEncoder().encode(merged))
        } catch let error as DecodingError {
            let key = Self.failingKey(error) ?? "?"
            let location = origin[key].map { $0.location(of: key) }
            let expected = Self.expectation(key)
            var detail = ""
            if case let .dataCorrupted(context) = error { detail = " (\(context.debugDescription))" }
            throw TrainingError.invalidSetting(key: key, source: location,
                                               reason: "expected \(expected), got \(merged[key].map { "\($0)" } ?? "null")\(detail)")
        }
    }

    /// Sets one setting by name from a Swift, YAML or JSON value; `source` names where it came from.
    public mutating func set(_ key: String, _ value: Any, source: String) throws {
        guard let v = SettingValue(value) else {
            throw TrainingError.invalidSetting(key: key, source: source, reason: "has a value of unsupported form: \(value)")
        }
        self = try overlaid(by: [try TrainingSettings([key: v], source: .program(source))])
    }

    /// Every setting with its value, in declaration order (QLoRA keys only for QLoRA, bf16-base
    /// only for adapter methods, patterns only when set): the run's saved config and report.
    public var settings: [(key: String, value: SettingValue)] {
        guard let all = try? settingValues(all: false) else { return [] }
        return CodingKeys.allCases.compactMap { k in all[k.rawValue].map { (k.rawValue, $0) } }
    }

    /// Every setting as a JSON object, `base-model` added (the run's config.json; it decodes
    /// back with `TrainingSettings(savedRun:path:)`, or as a `TrainingConfiguration`).
    public func savedJSON(baseModel: String) throws -> Data {
        var object = try settingValues(all: true)
        object[TrainingRun.baseModelKey] = .string(baseModel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(object)
    }

    /// The encoded settings; without `all`, those that do not apply to this method are left out.
    func settingValues(all: Bool) throws -> [String: SettingValue] {
        var values = try JSONDecoder().decode([String: SettingValue].self, from: JSONEncoder().encode(self))
        guard !all else { return values }
        for k in CodingKeys.allCases {
            let applies: Bool = switch k {
            case .quantization, .quantizationBlockSize, .doubleQuantization: method == .qlora
            case .bf16Base: method != .full
            case .rankPattern: !rankPattern.isEmpty
            case .alphaPattern: !alphaPattern.isEmpty
            default: true
            }
            if !applies { values[k.rawValue] = nil }
        }
        return values
    }

    /// A number or switch given as a string ("2e-4", "yes"), as YAML quoting or hand-written
    /// JSON may give it, read as the number or switch its setting takes; anything else as given.
    static func scalar(_ value: SettingValue, for key: String) -> SettingValue {
        guard case let .string(text) = value else { return value }
        let t = text.trimmingCharacters(in: .whitespaces)
        switch expectation(key) {
        case "an integer": return Int(t).map { .int($0) } ?? value
        case "a number": return Double(t).map { .double($0) } ?? value
        case "true or false":
            if ["true", "yes", "on", "1"].contains(t.lowercased()) { return .bool(true) }
            if ["false", "no", "off", "0"].contains(t.lowercased()) { return .bool(false) }
            return value
        default: return value
        }
    }

    static func failingKey(_ error: DecodingError) -> String? {
        let path: [CodingKey] = switch error {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .keyNotFound(_, c), let .dataCorrupted(c): c.codingPath
        @unknown default: []
        }
        if case let .keyNotFound(key, c) = error, c.codingPath.isEmpty { return key.stringValue }
        return path.first?.stringValue
    }

    /// What a setting accepts, for error messages.
    static func expectation(_ key: String) -> String {
        guard let k = CodingKeys(rawValue: key) else { return "a known setting" }
        return switch k {
        case .method: TrainingMethod.allCases.map(\.rawValue).joined(separator: ", ")
        case .quantization: BaseQuantization.allCases.map(\.rawValue).joined(separator: ", ")
        case .optimizer: OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")
        case .schedule: ScheduleKind.allCases.map(\.rawValue).joined(separator: ", ")
        case .loraInit: "kaiming or gaussian"
        case .computeDType: ComputeDType.allCases.map(\.rawValue).joined(separator: " or ")
        case .targets: "a list or comma-separated module names"
        case .layers: "a list or comma-separated layer numbers"
        case .rankPattern, .alphaPattern: "a map or name=value pairs"
        case .useRSLoRA, .optimizerStateOnDisk, .shardOptimizerState, .gradientCheckpointing, .packing, .paddingFree, .tokenCache, .trainOnInputs, .freezeEmbeddings,
             .doubleQuantization, .bf16Base: "true or false"
        case .rank, .gradientAccumulation, .epochs, .maxSteps, .batchSize, .batchTokens, .maxSequenceLength, .seed, .saveEvery, .evalEvery,
             .keepCheckpoints, .skipNonFiniteSteps, .quantizationBlockSize: "an integer"
        case .alpha, .dropout, .learningRate, .beta1, .beta2, .eps, .weightDecay, .warmup, .maxGradientNorm: "a number"
        }
    }
}
