// Reading safetensors files by mmap: an 8-byte little-endian header length, a JSON header
// (dtype, shape, data_offsets relative to the data section, optional __metadata__), then
// raw little-endian data. Tensors are zero-copy views of the mapping where aligned.
// The header is fully validated on open: bounds, sizes, overlaps, known dtypes.
import Foundation
import TensorCore

/// Where one tensor of a safetensors file lives and what it holds.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name (JSON key).
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Sizes of each axis, outermost first.
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataOffsets: Range<Int>
}

/// A safetensors file, mapped read-only; its header is parsed and checked on open.
public struct SafetensorsFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The free-form string map stored under `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in the order their data appears in the file.
    public let names: [String]
    /// All tensor descriptions, in the order of `names`.
    public let infos: [SafetensorsTensorInfo]
    private let byName: [String: Int]
    private let file: MappedFile
    /// Absolute file offset of the data section.
    private let dataStart: Int

    /// The largest header the reference library accepts (its HeaderTooLarge limit).
    static let maximumHeaderBytes = 100_000_000

    /// Safetensors dtype strings and the DType each maps to.
    static let dtypes: [String: DType] = [
        "F64": .f64, "F32": .f32, "F16": .f16, "BF16": .bf16,
        "I64": .i64, "U64": .u64, "I32": .i32, "U32": .u32,
        "I16": .i16, "U16": .u16, "I8": .i8, "U8": .u8, "BOOL": .bool,
    ]

    /// Maps and validates the file at `path`. Throws `FormatError` naming the file and,
    /// where one is at fault, the tensor.
    public init(path: String) throws {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw FormatError.io(file: path, reason: "\(error)")
        }
        self.path = path
        self.file = file
        var reader = ByteReader(file.bytes, file: path)
        let headerLength = try reader.u64("header length")
        guard headerLength <= UInt64(reader.remaining) else {
            throw FormatError.truncated(file: path, context: "JSON header of \(headerLength) bytes",
                                        offset: 8, needed: headerLength > UInt64(Int.max) ? Int.max : Int(headerLength))
        }
        guard headerLength <= UInt64(Self.maximumHeaderBytes) else {
            throw FormatError.invalidHeader(file: path, reason: "header of \(headerLength) bytes exceeds 100 MB")
        }
        let header = try reader.take(Int(headerLength), "JSON header")
        dataStart = 8 + Int(headerLength)
        let dataSize = file.byteCount - dataStart

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw FormatError.invalidHeader(file: path, reason: "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let top = json as? [String: Any] else {
            throw FormatError.invalidHeader(file: path, reason: "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for (key, value) in top {
            if key == "__metadata__" {
                if value is NSNull { continue }   // mlx writes `"__metadata__": null`; the safetensors library reads it as none
                guard let m = value as? [String: Any] else {
                    throw FormatError.invalidHeader(file: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw FormatError.invalidHeader(file: path, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            infos.append(try Self.parseEntry(key, value, file: path, dataSize: dataSize))
        }
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                     < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        for (a, b) in zip(infos, infos.dropFirst()) where b.dataOffsets.lowerBound < a.dataOffsets.upperBound {
            throw FormatError.overlappingTensors(file: path, tensor: b.name, other: a.name)
        }
        self.metadata = metadata
        self.infos = infos
        names = infos.map(\.name)
        byName = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    /// Parses and checks one header entry: dtype known, shape sane, offsets inside the data
    /// section and exactly as long as the shape needs.
    static func parseEntry(_ name: String, _ value: Any, file: String, dataSize: Int) throws -> SafetensorsTensorInfo {
        guard let entry = value as? [String: Any] else {
            throw FormatError.invalidHeader(file: file, reason: "entry for tensor '\(name)' is not an object")
        }
        guard let dtypeName = entry["dtype"] as? String else {
            throw FormatError.invalidHeader(file: file, reason: "tensor '\(name)' has no dtype string")
        }
        guard let dtype = dtypes[dtypeName] else {
            throw FormatError.unsupportedType(file: file, tensor: name, type: dtypeName)
        }
        guard let shapeList = entry["shape"] as? [Any], let shape = intList(shapeList) else {
            throw FormatError.invalidShape(file: file, tensor: name, reason: "shape is not a list of integers")
        }
        guard let offsetList = entry["data_offsets"] as? [Any], let offsets = intList(offsetList), offsets.count == 2 else {
            throw FormatError.invalidHeader(file: file, reason: "tensor '\(name)': data_offsets is not two integers")
        }
        guard let count = checkedProduct(shape) else {
            throw FormatError.invalidShape(file: file, tensor: name, reason: "shape \(shape) is negative or its size overflows")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw FormatError.invalidShape(file: file, tensor: name, reason: "shape \(shape) of \(dtypeName) overflows")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw FormatError.tensorOutOfBounds(
                file: file, tensor: name,
                reason: "data_offsets [\(begin), \(end)] lie outside the data section of \(dataSize) bytes")
        }
        guard end - begin == bytes else {
            throw FormatError.tensorOutOfBounds(
                file: file, tensor: name,
                reason: "data_offsets [\(begin), \(end)] span \(end - begin) bytes, shape \(shape) of \(dtypeName) needs \(bytes)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// JSON integers (rejecting fractions, booleans-as-numbers aside, and out-of-range values).
    static func intList(_ list: [Any]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(list.count)
        for v in list {
            if let i = v as? Int { out.append(i); continue }
            return nil
        }
        return out
    }

    /// The description of tensor `name`, or nil when there is none.
    public func info(_ name: String) -> SafetensorsTensorInfo? {
        byName[name].map { infos[$0] }
    }

    /// Drops the resident pages of tensor `name`'s data (see MappedFile.releasePages).
    public func releasePages(of name: String) {
        guard let info = info(name) else { return }
        file.releasePages((dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound))
    }

    /// Tensor `name` in its stored dtype: a zero-copy view of the mapping when its data is
    /// aligned for the dtype, otherwise a copy. Use `.widened()` for Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = info(name) else { throw FormatError.tensorNotFound(file: path, tensor: name) }
        let offset = dataStart + info.dataOffsets.lowerBound
        if offset % info.dtype.byteSize == 0 {
            do {
                return try Tensor(mapping: file, offset: offset, shape: info.shape, dtype: info.dtype)
            } catch {
                throw FormatError.tensorOutOfBounds(file: path, tensor: name, reason: "\(error)")
            }
        }
        // Misaligned data (legal in the format, rare in practice): copy it out.
        var t = Tensor(uninitialized: info.shape, dtype: info.dtype)
        t.withUnsafeMutableBytes { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + info.dataOffsets.count)]))
        }
        return t
    }
}
