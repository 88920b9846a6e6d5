// Errors raised when quantized bytes do not fit what a kernel was asked to do: a type
// this module cannot decode, a length that is not whole blocks, a buffer too short.
// Callers in the format layer wrap these with the file and tensor name.

/// An error raised by GGML dequantization or quantization.
public enum QuantizationError: Error, Equatable, CustomStringConvertible {
    /// The ggml type has no dequantizer (or quantizer) here.
    case unsupportedType(GGMLType, operation: String)
    /// An element count or row length is not a whole number of blocks of the type.
    case notWholeBlocks(GGMLType, elements: Int)
    /// The byte buffer holds fewer bytes than the requested elements need.
    case bufferTooSmall(GGMLType, needed: Int, available: Int)
    /// A row range falls outside the tensor.
    case rowsOutOfRange(Range<Int>, rowCount: Int)

    /// A value to quantize is NaN or infinite.
    case nonFiniteValue(index: Int)

    /// A message naming the file or type and what was expected.
    public var description: String {
        switch self {
        case let .unsupportedType(t, op):
            "\(op): ggml type \(t) is not supported"
        case let .notWholeBlocks(t, n):
            "\(n) elements are not a whole number of \(t) blocks of \(t.blockSize)"
        case let .bufferTooSmall(t, needed, available):
            "\(t) data needs \(needed) bytes but only \(available) are available"
        case let .rowsOutOfRange(r, rows):
            "rows \(r.lowerBound)..<\(r.upperBound) are outside 0..<\(rows)"
        case let .nonFiniteValue(i):
            "value at index \(i) is not finite and cannot be quantized"
        }
    }
}
