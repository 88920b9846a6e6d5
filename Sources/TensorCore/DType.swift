// Element types a tensor can be stored in. Compute is always Float32; f16 and bf16
// storage is widened on the fly. Integer types exist for the file formats (token ids,
// safetensors integer tensors) and are never used in arithmetic kernels.

/// The element type of a tensor's storage.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32, f16, bf16, f64
    case i8, u8, i16, u16, i32, u32, i64, u64
    case bool
    /// A compact encoding (GGML blocks, NF4, …) held by `Tensor.packed`; not elementwise.
    case packed

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        case .packed: 0
        }
    }

    /// True for f32, f16 and bf16: the types a kernel can widen to Float32.
    public var isFloatingPoint: Bool {
        self == .f32 || self == .f16 || self == .bf16 || self == .f64
    }
}
