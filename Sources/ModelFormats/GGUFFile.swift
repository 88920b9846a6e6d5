// Reading GGUF files (v2 and v3, little-endian) by mmap: header, metadata, tensor infos
// and the aligned data section (spec: ggml/docs/gguf.md). Every count and size is bounded
// by the bytes left in the file before anything is allocated, so a damaged file throws
// FormatError instead of trapping. Tensor access is in GGUFFile+Tensors.swift.
import Foundation
import TensorCore
import Quantization

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor name, e.g. "blk.0.attn_q.weight".
    public let name: String
    /// Storage type.
    public let type: GGMLType
    /// Sizes of each axis, outermost first (the reverse of the file's innermost-first list).
    public let shape: [Int]
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    /// Bytes of data.
    public let byteCount: Int

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// A GGUF file, mapped read-only; header, metadata and tensor infos are parsed on open.
public struct GGUFFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// Format version (2 or 3).
    public let version: Int
    /// Metadata by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// Data alignment (general.alignment, default 32).
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    let file: MappedFile
    let byName: [String: Int]

    /// "GGUF" read as a little-endian u32.
    static let magic: UInt32 = 0x4655_4747
    /// ggml's GGML_MAX_DIMS.
    static let maximumDimensions = 4
    /// Arrays nested deeper than this are rejected (guards the recursion).
    static let maximumNesting = 8
    /// The default data alignment.
    public static let defaultAlignment = 32

    /// Maps and parses the file at `path`. Throws `FormatError` naming the file and, where
    /// one is at fault, the tensor.
    public init(path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw FormatError.io(file: path, reason: "\(error)")
        }
        self.path = path
        self.file = file
        var r = ByteReader(file.bytes, file: path)
        try r.need(4, "magic")
        let magic = try r.u32("magic")
        guard magic == Self.magic else {
            let found = withUnsafeBytes(of: magic.littleEndian) { $0.map { String(format: "%02x", $0) }.joined() }
            throw FormatError.badMagic(file: path, expected: "47475546 (\"GGUF\")", found: found)
        }
        let version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw FormatError.unsupportedVersion(file: path, version: Int(version), supported: "2, 3")
        }
        self.version = Int(version)
        // Minimum sizes: a tensor info is name length + n_dims + type + offset; a key/value
        // is key length + type tag + at least one byte of value.
        let tensorCount = try r.count("tensor count", perItem: 24)
        let kvCount = try r.count("metadata entry count", perItem: 13)

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try r.string("key of metadata entry \(i)")
            let typeID = try r.u32("type of '\(key)'")
            guard let type = GGUFValueType(rawValue: typeID) else {
                throw FormatError.invalidHeader(file: path, reason: "metadata '\(key)' has unknown value type \(typeID)")
            }
            let value = try Self.readValue(type, &r, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw FormatError.duplicateName(file: path, name: key)
            }
            keys.append(key)
        }
        self.metadata = metadata
        metadataKeys = keys

        var alignment = Self.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.int, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                throw FormatError.invalidHeader(file: path, reason: "general.alignment \(a) is not a power of two")
            }
            alignment = v
        }
        self.alignment = alignment

        var raw: [(name: String, dims: [Int], typeID: UInt32, offset: UInt64)] = []
        raw.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try r.string("name of tensor \(i)")
            let nDims = try r.u32("dimension count of '\(name)'")
            guard nDims <= Self.maximumDimensions else {
                throw FormatError.invalidShape(file: path, tensor: name, reason: "\(nDims) dimensions (at most \(Self.maximumDimensions))")
            }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let d = try r.u64("dimensions of '\(name)'")
                guard d <= UInt64(Int.max) else {
                    throw FormatError.invalidShape(file: path, tensor: name, reason: "dimension \(d) is too large")
                }
                dims.append(Int(d))
            }
            let typeID = try r.u32("type of '\(name)'")
            let offset = try r.u64("data offset of '\(name)'")
            raw.append((name, dims, typeID, offset))
        }
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset

        var infos: [GGUFTensorInfo] = []
        var byName: [String: Int] = [:]
        for t in raw {
            let info = try Self.checkTensor(t.name, dims: t.dims, typeID: t.typeID, relativeOffset: t.offset,
                                            alignment: alignment, dataOffset: dataOffset, fileSize: file.byteCount, file: path)
            guard byName.updateValue(infos.count, forKey: t.name) == nil else {
                throw FormatError.duplicateName(file: path, name: t.name)
            }
            infos.append(info)
        }
        tensorInfos = infos
        self.byName = byName
    }

    /// Validates one tensor info: known type, sane shape, whole blocks, aligned offset and
    /// data inside the file.
    static func checkTensor(_ name: String, dims: [Int], typeID: UInt32, relativeOffset: UInt64, alignment: Int,
                            dataOffset: Int, fileSize: Int, file: String) throws -> GGUFTensorInfo {
        guard let type = GGMLType(rawValue: typeID) else {
            throw FormatError.unsupportedType(file: file, tensor: name, type: "ggml type id \(typeID)")
        }
        let shape = Array(dims.reversed())
        guard let count = checkedProduct(shape) else {
            throw FormatError.invalidShape(file: file, tensor: name, reason: "dimensions \(dims) overflow")
        }
        guard (dims.first ?? 1) % type.blockSize == 0, let bytes = type.byteCount(elements: count) else {
            throw FormatError.invalidShape(
                file: file, tensor: name,
                reason: "innermost dimension \(dims.first ?? 1) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        guard relativeOffset % UInt64(alignment) == 0 else {
            throw FormatError.tensorOutOfBounds(file: file, tensor: name,
                                                reason: "data offset \(relativeOffset) is not a multiple of the alignment \(alignment)")
        }
        let available = fileSize - min(dataOffset, fileSize)
        guard relativeOffset <= UInt64(available), bytes <= available - Int(relativeOffset) else {
            throw FormatError.tensorOutOfBounds(
                file: file, tensor: name,
                reason: "data at offset \(relativeOffset) (\(bytes) bytes) runs past the end of the data section (\(available) bytes)")
        }
        return GGUFTensorInfo(name: name, type: type, shape: shape, offset: dataOffset + Int(relativeOffset), byteCount: bytes)
    }

    /// Reads one metadata value of `type`.
    static func readValue(_ type: GGUFValueType, _ r: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try r.load(UInt8.self, key))
        case .int8: return .int8(try r.load(Int8.self, key))
        case .uint16: return .uint16(try r.load(UInt16.self, key))
        case .int16: return .int16(try r.load(Int16.self, key))
        case .uint32: return .uint32(try r.load(UInt32.self, key))
        case .int32: return .int32(try r.load(Int32.self, key))
        case .uint64: return .uint64(try r.load(UInt64.self, key))
        case .int64: return .int64(try r.load(Int64.self, key))
        case .float32: return .float32(Float(bitPattern: try r.load(UInt32.self, key)))
        case .float64: return .float64(Double(bitPattern: try r.load(UInt64.self, key)))
        case .bool:
            return .bool(try r.load(UInt8.self, key) != 0)
        case .string: return .string(try r.string("value of '\(key)'"))
        case .array:
            guard depth < maximumNesting else {
                throw FormatError.invalidHeader(file: r.file, reason: "'\(key)': arrays nested deeper than \(maximumNesting)")
            }
            let elemID = try r.u32("element type of '\(key)'")
            guard let elem = GGUFValueType(rawValue: elemID) else {
                throw FormatError.invalidHeader(file: r.file, reason: "'\(key)': unknown array element type \(elemID)")
            }
            let n = try r.count("element count of '\(key)'", perItem: elem.minimumSize)
            // Reserve modestly: memory then grows only with elements actually parsed.
            var values: [GGUFValue] = []
            values.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n { values.append(try readValue(elem, &r, key: key, depth: depth + 1)) }
            return .array(elementType: elem, values: values)
        }
    }
}
