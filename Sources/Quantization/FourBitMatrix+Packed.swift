// NF4/FP4 matrices as frozen linear weights: the tape widens them into its reused scratch
// right before each product (TensorCore.PackedMatrix).
import TensorCore

extension FourBitMatrix: PackedMatrix {
    /// Input features (`cols`).
    public var columns: Int { cols }
    /// Codes plus absmax storage.
    public var storageBytes: Int { byteCount }
    /// "NF4" or "FP4".
    public var encoding: String { type.rawValue.uppercased() }

    /// Dequantizes rows `range` (blocks may span rows).
    public func unpack(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        dequantize(rows: range, into: destination)
    }
}
