// GGUF metadata values: the thirteen value types of the format (ids from gguf.h /
// gguf-py's GGUFValueType), typed arrays that may nest, and lenient accessors so callers
// can read "an integer" without caring whether the file stored u32 or i64.

/// The type tag of a GGUF metadata value (the id stored in the file).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5
    case float32 = 6, bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value of this type in the file, or nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes one value can take (used to bound counts before allocating).
    var minimumSize: Int {
        switch self {
        case .string: 8                 // u64 length
        case .array: 12                 // u32 element type + u64 count
        default: fixedSize!
        }
    }
}

/// A GGUF metadata value.
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool), string(String)
    /// An array whose elements all have type `elementType` (arrays may nest).
    indirect case array(elementType: GGUFValueType, values: [GGUFValue])

    /// An array of strings.
    public static func strings(_ values: [String]) -> GGUFValue {
        .array(elementType: .string, values: values.map { .string($0) })
    }

    /// The value's type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The string, for string values.
    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// Any integer value that fits in `Int`.
    public var int: Int? {
        switch self {
        case let .uint8(v): Int(v)
        case let .int8(v): Int(v)
        case let .uint16(v): Int(v)
        case let .int16(v): Int(v)
        case let .uint32(v): Int(v)
        case let .int32(v): Int(v)
        case let .uint64(v): Int(exactly: v)
        case let .int64(v): Int(v)
        default: nil
        }
    }

    /// Any float or integer value as Double.
    public var double: Double? {
        switch self {
        case let .float32(v): Double(v)
        case let .float64(v): v
        default: int.map(Double.init)
        }
    }

    /// Any float or integer value as Float.
    public var float: Float? { double.map(Float.init) }

    /// The Boolean, for bool values.
    public var bool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// The elements, for arrays.
    public var array: [GGUFValue]? {
        if case let .array(_, values) = self { return values }
        return nil
    }

    /// The elements as strings, for arrays of strings.
    public var strings: [String]? {
        guard case let .array(type, values) = self, type == .string else { return nil }
        return values.map { $0.string ?? "" }
    }

    /// The elements as Ints, for arrays of integers.
    public var ints: [Int]? {
        guard let values = array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let i = v.int else { return nil }
            out.append(i)
        }
        return out
    }

    /// A short human-readable rendering (long strings and arrays are elided).
    public var description: String {
        switch self {
        case let .string(s): return s.count > 80 ? "\"\(s.prefix(77))…\"" : "\"\(s)\""
        case let .array(type, values):
            let shown = values.prefix(4).map(\.description).joined(separator: ", ")
            return "[\(type)] × \(values.count): [\(shown)\(values.count > 4 ? ", …" : "")]"
        case let .bool(b): return String(b)
        case let .float32(v): return String(v)
        case let .float64(v): return String(v)
        default: return String(int ?? 0)
        }
    }
}
