// Writing GGUF v3 files: metadata of every value type, tensor infos, then the data section
// with each tensor padded to the alignment, as gguf.c and gguf-py lay it out. Tensors are
// encoded (F32, F16, BF16, the GGML block types ggml's reference quantizers write, or raw
// GGML blocks) one at a time while writing; atomic rename.
// A tensor can also be given as a closure that makes it at write time, so a whole model is
// written with only one tensor in memory at a time.
import Foundation
import TensorCore
import Quantization

/// Collects metadata and tensors, then writes a GGUF file.
public struct GGUFWriter {
    /// What gets stored for one tensor.
    enum Source {
        case tensor(Tensor, GGMLType)
        case raw(GGMLTensor)
        /// Made by the closure while the file is written, then encoded as the type.
        case lazy(shape: [Int], GGMLType, () throws -> Tensor)
    }

    /// Data alignment; written as general.alignment when not the default 32.
    public let alignment: Int
    /// Metadata in the order it will be written.
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [(name: String, source: Source)] = []

    /// A writer with the given data alignment (a power of two).
    public init(alignment: Int = GGUFFile.defaultAlignment) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        self.alignment = alignment
        if alignment != GGUFFile.defaultAlignment { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    /// Sets metadata `key` to `value`, replacing an earlier value in place.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    /// Adds a tensor to store as `type`: .f32, .f16, or one of `GGMLType.quantizable` (BF16,
    /// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, encoded as ggml's reference quantizers
    /// do). A block type needs an innermost axis that is a multiple of its block size (32, or
    /// 256 for the k-quants). Throws on duplicate names or unsupported types.
    public mutating func add(_ name: String, _ tensor: Tensor, as type: GGMLType = .f32) throws {
        try Self.checkEncodable(name, shape: tensor.shape, type)
        try addSource(name, .tensor(tensor, type))
    }

    /// Adds a tensor of `shape` that `make` produces only while the file is written (then it is
    /// encoded as `type` and released). `make` must return exactly that shape.
    public mutating func add(_ name: String, shape: [Int], as type: GGMLType = .f32, make: @escaping () throws -> Tensor) throws {
        try Self.checkEncodable(name, shape: shape, type)
        try addSource(name, .lazy(shape: shape, type, make))
    }

    /// Whether `type` can be written for a tensor of `shape`: an encodable type, at most four
    /// axes, an innermost axis of whole blocks.
    static func checkEncodable(_ name: String, shape: [Int], _ type: GGMLType) throws {
        guard type == .f32 || type == .f16 || type.canQuantize else {
            let names = ([.f32, .f16] + GGMLType.quantizable.sorted { $0.rawValue < $1.rawValue }).map(\.name)
            throw FormatError.invalidTensor(file: "GGUFWriter", tensor: name,
                                            reason: "cannot encode as \(type) (\(names.joined(separator: ", ")) only)")
        }
        guard shape.count <= GGUFFile.maximumDimensions else {
            throw FormatError.invalidShape(file: "GGUFWriter", tensor: name, reason: "\(shape.count) axes (at most 4)")
        }
        guard (shape.last ?? 1) % type.blockSize == 0 else {
            throw FormatError.invalidShape(file: "GGUFWriter", tensor: name,
                                           reason: "innermost axis \(shape.last ?? 1) is not a multiple of \(type.blockSize) for \(type)")
        }
    }

    /// Adds a tensor stored as it already is (e.g. quantized blocks read from another GGUF).
    public mutating func add(_ name: String, raw: GGMLTensor) throws {
        guard raw.shape.count <= GGUFFile.maximumDimensions else {
            throw FormatError.invalidShape(file: "GGUFWriter", tensor: name, reason: "\(raw.shape.count) axes (at most 4)")
        }
        try addSource(name, .raw(raw))
    }

    private mutating func addSource(_ name: String, _ source: Source) throws {
        guard !tensors.contains(where: { $0.name == name }) else {
            throw FormatError.duplicateName(file: "GGUFWriter", name: name)
        }
        tensors.append((name, source))
    }

    /// Writes the file to `url` atomically. Throws when general.alignment was set to a
    /// value other than this writer's alignment, or an array mixes element types.
    public func write(to url: URL) throws {
        if let a = metadata.first(where: { $0.key == "general.alignment" })?.value, a.int != alignment {
            throw FormatError.invalidHeader(file: url.path,
                                            reason: "general.alignment \(a) differs from the writer's alignment \(alignment)")
        }
        let out = try AtomicFileWriter(destination: url)
        try out.write(le: GGUFFile.magic)
        try out.write(le: UInt32(3))
        try out.write(le: UInt64(tensors.count))
        try out.write(le: UInt64(metadata.count))
        for (key, value) in metadata {
            try Self.writeString(key, out)
            try out.write(le: value.type.rawValue)
            try Self.writeValue(value, out, key: key, file: url.path)
        }
        var offset = 0
        for (name, source) in tensors {
            let (type, shape) = Self.typeAndShape(source)
            try Self.writeString(name, out)
            try out.write(le: UInt32(shape.count))
            for d in shape.reversed() { try out.write(le: UInt64(d)) }   // innermost first
            try out.write(le: type.rawValue)
            try out.write(le: UInt64(offset))
            let bytes = type.byteCount(elements: shape.reduce(1, *))!
            offset += (bytes + alignment - 1) / alignment * alignment
        }
        try out.pad(to: alignment)
        for (name, source) in tensors {
            try Self.encode(source, name: name, out, file: url.path)
            try out.pad(to: alignment)
        }
        try out.commit()
    }

    static func typeAndShape(_ source: Source) -> (GGMLType, [Int]) {
        switch source {
        case let .tensor(t, type): (type, t.shape)
        case let .raw(r): (r.type, r.shape)
        case let .lazy(shape, type, _): (type, shape)
        }
    }

    static func encode(_ source: Source, name: String, _ out: AtomicFileWriter, file: String) throws {
        switch source {
        case let .raw(r):
            try out.write(r.bytes)
        case let .lazy(shape, type, make):
            let t = try make()
            guard t.shape == shape else {
                throw FormatError.invalidShape(file: file, tensor: name, reason: "made with shape \(t.shape), declared \(shape)")
            }
            try encode(.tensor(t, type), name: name, out, file: file)
        case let .tensor(t, type):
            let f32 = t.widened()
            switch type {
            case .f32: try f32.withUnsafeBytes { try out.write($0) }
            case .f16: try f32.narrowed(to: .f16).withUnsafeBytes { try out.write($0) }
            default:
                do {
                    let q = try f32.withUnsafeFloats { try type.quantize($0) }
                    try out.write(q)
                } catch let e as QuantizationError {
                    throw FormatError.invalidTensor(file: file, tensor: name, reason: e.description)
                }
            }
        }
    }

    static func writeString(_ s: String, _ out: AtomicFileWriter) throws {
        let bytes = Array(s.utf8)
        try out.write(le: UInt64(bytes.count))
        try out.write(bytes)
    }

    static func writeValue(_ value: GGUFValue, _ out: AtomicFileWriter, key: String, file: String) throws {
        switch value {
        case let .uint8(v): try out.write(le: v)
        case let .int8(v): try out.write(le: v)
        case let .uint16(v): try out.write(le: v)
        case let .int16(v): try out.write(le: v)
        case let .uint32(v): try out.write(le: v)
        case let .int32(v): try out.write(le: v)
        case let .uint64(v): try out.write(le: v)
        case let .int64(v): try out.write(le: v)
        case let .float32(v): try out.write(le: v.bitPattern)
        case let .float64(v): try out.write(le: v.bitPattern)
        case let .bool(v): try out.write(le: UInt8(v ? 1 : 0))
        case let .string(s): try writeString(s, out)
        case let .array(type, values):
            try out.write(le: type.rawValue)
            try out.write(le: UInt64(values.count))
            for v in values {
                guard v.type == type else {
                    throw FormatError.invalidHeader(file: file, reason: "'\(key)': array of \(type) holds a \(v.type)")
                }
                try writeValue(v, out, key: key, file: file)
            }
        }
    }
}
