// Typed errors for bad input to the tensor layer. Programmer mistakes (a kernel called
// with a wrong internal size) are preconditions; anything a user's data can cause throws.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error raised by tensor construction, shape checks or file mapping.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// Two shapes that had to agree do not; `op` names the operation.
    case shapeMismatch(op: String, lhs: [Int], rhs: [Int])
    /// A shape that is invalid on its own (negative size, wrong rank, wrong element count).
    case invalidShape(op: String, shape: [Int], expected: String)
    /// The operation needs a different element type.
    case unsupportedDType(op: String, dtype: DType)
    /// An index (token id, target id, slice bound) is out of range.
    case indexOutOfRange(op: String, index: Int, bound: Int)
    /// A file could not be opened or mapped.
    case fileError(path: String, reason: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, lhs, rhs):
            "\(op): shapes \(lhs) and \(rhs) do not match"
        case let .invalidShape(op, shape, expected):
            "\(op): shape \(shape) is invalid, expected \(expected)"
        case let .unsupportedDType(op, dtype):
            "\(op): element type \(dtype) is not supported here"
        case let .indexOutOfRange(op, index, bound):
            "\(op): index \(index) is out of range 0..<\(bound)"
        case let .fileError(path, reason):
            "\(path): \(reason)"
        }
    }
}
