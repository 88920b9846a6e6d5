// A setting's value as a YAML file, a run's config.json or the command line gives it, before
// it is decoded into its typed field of TrainingConfiguration: JSON's value space. Lists and
// maps may also arrive as the command line spells them ("q_proj,v_proj", "down_proj=4").
import Foundation

/// A JSON-shaped value of one setting.
public enum SettingValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([SettingValue])
    case map([String: SettingValue])
    case null

    /// Converts what Yams, JSONSerialization or Swift code hands over (Bool, Int, Double,
    /// String, arrays and string-keyed dictionaries of those); nil for anything else.
    public init?(_ any: Any) {
        switch any {
        case let v as SettingValue: self = v
        case let v as Bool where type(of: any) == Bool.self: self = .bool(v)
        case let n as NSNumber:
            // JSONSerialization's numbers: a bool is "c"; integral values stay integers.
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) }
            else if let i = Int(exactly: n.doubleValue), !["f", "d"].contains(String(cString: n.objCType)) { self = .int(i) }
            else { self = .double(n.doubleValue) }
        case let v as Int: self = .int(v)
        case let v as UInt64: guard let i = Int(exactly: v) else { return nil }; self = .int(i)
        case let v as Double: self = .double(v)
        case let v as Float: self = .double(Double("\(v)") ?? Double(v))
        case let v as String: self = .string(v)
        case let v as [Any]:
            var out: [SettingValue] = []
            for e in v { guard let s = SettingValue(e) else { return nil }; out.append(s) }
            self = .list(out)
        case let v as [String: Any]:
            var out: [String: SettingValue] = [:]
            for (k, e) in v { guard let s = SettingValue(e) else { return nil }; out[k] = s }
            self = .map(out)
        case is NSNull: self = .null
        default: return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([SettingValue].self) { self = .list(l) }
        else { self = .map(try c.decode([String: SettingValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .bool(v): try c.encode(v)
        case let .int(v): try c.encode(v)
        case let .double(v): try c.encode(v)
        case let .string(v): try c.encode(v)
        case let .list(v): try c.encode(v)
        case let .map(v): try c.encode(v)
        case .null: try c.encodeNil()
        }
    }

    /// The value as a report shows it: 0.9, true, [q_proj, v_proj], {down_proj: 4}.
    public var description: String {
        switch self {
        case let .bool(v): "\(v)"
        case let .int(v): "\(v)"
        case let .double(v): "\(v)"
        case let .string(v): v
        case let .list(v): "[" + v.map(\.description).joined(separator: ", ") + "]"
        case let .map(v): "{" + v.keys.sorted().map { "\($0): \(v[$0]!)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }
}

/// A list setting that also reads a comma-separated string ("q_proj, v_proj"), as flags give it.
@propertyWrapper
public struct CommaSeparated<Element: Codable & LosslessStringConvertible & Sendable & Equatable>: Codable, Equatable, Sendable {
    /// The list.
    public var wrappedValue: [Element]
    /// Wraps `wrappedValue`.
    public init(wrappedValue: [Element]) { self.wrappedValue = wrappedValue }

    /// Reads a list, or one comma-separated string.
    public init(from decoder: Decoder) throws {
        wrappedValue = try Self.decodeList(decoder)
    }

    static func decodeList(_ decoder: Decoder) throws -> [Element] {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([Element].self) { return list }
        let text = try c.decode(String.self)
        return try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map {
            guard let e = Element($0) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\($0)' is not a valid \(Element.self)")
            }
            return e
        }
    }

    /// Writes the value itself.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}

/// An optional list setting (absent = nil) that also reads a comma-separated string.
@propertyWrapper
public struct OptionalCommaSeparated<Element: Codable & LosslessStringConvertible & Sendable & Equatable>: Codable, Equatable, Sendable {
    /// The list, or nil.
    public var wrappedValue: [Element]?
    /// Wraps `wrappedValue`.
    public init(wrappedValue: [Element]?) { self.wrappedValue = wrappedValue }

    /// Reads null, a list, or one comma-separated string.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try CommaSeparated<Element>.decodeList(decoder)
    }

    /// Writes the value itself.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}

/// A map setting that also reads "name=value" pairs separated by commas ("down_proj=4,o_proj=8").
@propertyWrapper
public struct NameValuePairs<Value: Codable & LosslessStringConvertible & Sendable & Equatable>: Codable, Equatable, Sendable {
    /// The map.
    public var wrappedValue: [String: Value]
    /// Wraps `wrappedValue`.
    public init(wrappedValue: [String: Value]) { self.wrappedValue = wrappedValue }

    /// Reads a map, or "name=value" pairs separated by commas.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let map = try? c.decode([String: Value].self) { wrappedValue = map; return }
        var out: [String: Value] = [:]
        for part in try c.decode(String.self).split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let v = Value(kv[1]) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected name=value pairs, got '\(part)'")
            }
            out[kv[0]] = v
        }
        wrappedValue = out
    }

    /// Writes the value itself.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    /// An absent optional list decodes as nil (synthesized Codable would require the key).
    public func decode<E>(_ type: OptionalCommaSeparated<E>.Type, forKey key: Key) throws -> OptionalCommaSeparated<E> {
        try decodeIfPresent(type, forKey: key) ?? OptionalCommaSeparated(wrappedValue: nil)
    }
}

extension KeyedEncodingContainer {
    /// A nil optional list is left out, as synthesized Codable leaves out nil optionals.
    public mutating func encode<E>(_ value: OptionalCommaSeparated<E>, forKey key: Key) throws {
        try encodeIfPresent(value.wrappedValue, forKey: key)
    }
}
