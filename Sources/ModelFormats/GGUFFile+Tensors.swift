// Tensor access for GGUF files: Float32 tensors (a zero-copy view for aligned F32 data,
// dequantized otherwise), raw blocks for callers that keep weights quantized, and typed
// metadata look-ups. Shapes are row-major (outermost first).
import TensorCore
import Quantization

extension GGUFFile {
    /// Tensor names in file order.
    public var tensorNames: [String] { tensorInfos.map(\.name) }

    /// The info of tensor `name`, or nil.
    public func info(_ name: String) -> GGUFTensorInfo? {
        byName[name].map { tensorInfos[$0] }
    }

    /// `general.architecture`, e.g. "llama".
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The metadata value for `key`, or nil.
    public subscript(key: String) -> GGUFValue? { metadata[key] }

    /// Tensor `name` as Float32: a zero-copy view of the mapping for aligned F32 data,
    /// otherwise widened or dequantized into a new buffer. Throws for unknown names and
    /// types this build cannot decode.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = info(name) else { throw FormatError.tensorNotFound(file: path, tensor: name) }
        if info.type == .f32 && info.offset % 4 == 0 {
            do {
                return try Tensor(mapping: file, offset: info.offset, shape: info.shape, dtype: .f32)
            } catch {
                throw FormatError.tensorOutOfBounds(file: path, tensor: name, reason: "\(error)")
            }
        }
        if let dtype = Self.plainDType(info.type) {
            return try storedTensor(named: name, info: info, dtype: dtype).widened()
        }
        guard info.type.canDequantize else {
            throw FormatError.unsupportedType(file: path, tensor: name, type: "\(info.type) (no dequantizer)")
        }
        do {
            return try rawTensor(named: name).dequantized()
        } catch let e as QuantizationError {
            throw FormatError.invalidShape(file: path, tensor: name, reason: e.description)
        }
    }

    /// Tensor `name` in its GGML storage type, viewing the mapped bytes (no copy).
    /// Drops the resident pages of tensor `name`'s data once it has been read for the last time.
    public func releasePages(of name: String) {
        guard let info = info(name) else { return }
        file.releasePages(info.offset..<(info.offset + info.byteCount))
    }

    public func rawTensor(named name: String) throws -> GGMLTensor {
        guard let info = info(name) else { throw FormatError.tensorNotFound(file: path, tensor: name) }
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[info.offset..<(info.offset + info.byteCount)])
        do {
            return try GGMLTensor(type: info.type, shape: info.shape, bytes: bytes, owner: file)
        } catch let e as QuantizationError {
            throw FormatError.invalidShape(file: path, tensor: name, reason: e.description)
        }
    }

    /// The DType of a plain (non-block) ggml type, or nil for block formats.
    static func plainDType(_ type: GGMLType) -> DType? {
        switch type {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f64: .f64
        case .i8: .i8
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        default: nil
        }
    }

    /// A plain-typed tensor in its stored dtype: a view when aligned, else a copy.
    func storedTensor(named name: String, info: GGUFTensorInfo, dtype: DType) throws -> Tensor {
        if info.offset % dtype.byteSize == 0 {
            do {
                return try Tensor(mapping: file, offset: info.offset, shape: info.shape, dtype: dtype)
            } catch {
                throw FormatError.tensorOutOfBounds(file: path, tensor: name, reason: "\(error)")
            }
        }
        var t = Tensor(uninitialized: info.shape, dtype: dtype)
        t.withUnsafeMutableBytes { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: file.bytes[info.offset..<(info.offset + info.byteCount)]))
        }
        return t
    }
}
