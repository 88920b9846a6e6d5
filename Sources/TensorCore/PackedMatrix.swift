// Frozen weight matrices kept in a compact encoding (GGML blocks, NF4/FP4) and widened to
// Float32 only right before a product, into a reused scratch buffer: the widened copy is
// never kept. A Tensor of dtype `.packed` carries one; only the tape's linear products (and
// `widened()`) read it.

/// A row-major [rows, columns] matrix stored in some compact encoding.
public protocol PackedMatrix: Sendable {
    /// Number of rows (output features of a linear layer).
    var rows: Int { get }
    /// Number of columns (input features).
    var columns: Int { get }
    /// Bytes the encoded form occupies.
    var storageBytes: Int { get }
    /// A short name of the encoding, e.g. "Q4_1" or "NF4".
    var encoding: String { get }
    /// Writes rows `range` as Float32, row-major, to `destination` (range.count · columns floats).
    func unpack(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>)
    /// Whether `productFewRows` reads this encoding directly.
    var hasFewRowProduct: Bool { get }
    /// y[i·ldy + j] = x_i · row j for the m rows of `x` (each `columns` floats, ldx apart) and the
    /// rows j in `outputs`, read straight from the encoding (decoding: nothing widened to memory),
    /// each element the same whatever m is. Only called when `hasFewRowProduct`.
    func productFewRows(_ x: UnsafePointer<Float>, m: Int, ldx: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int)
}

extension PackedMatrix {
    public var hasFewRowProduct: Bool { false }
    public func productFewRows(_ x: UnsafePointer<Float>, m: Int, ldx: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        preconditionFailure("\(encoding) has no few-row product")
    }
}

extension Tensor {
    /// A zero-copy, read-only view of memory that `owner` keeps valid (writing copies first).
    public init(borrowing pointer: UnsafeRawPointer, shape: [Int], dtype: DType, owner: AnyObject) {
        self.init(zeros: [0], dtype: dtype)
        storage = TensorStorage(borrowing: pointer, byteCount: shape.reduce(1, *) * dtype.byteSize, owner: owner)
        byteOffset = 0
        setShape(shape)
    }

    /// A tensor holding a packed matrix (dtype `.packed`, shape [rows, columns]).
    public init(packed matrix: any PackedMatrix) {
        self.init(zeros: [0], dtype: .packed)
        setPacked(matrix)
    }

    /// Widens rows `range` of a packed or narrow 2-D tensor into `destination`.
    public func unpackRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(rank == 2 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        if let packed {
            packed.unpack(rows: range, into: destination)
            return
        }
        let cols = shape[1]
        withUnsafeBytes { raw in
            let rowBytes = cols * dtype.byteSize
            let slice = UnsafeRawBufferPointer(rebasing: raw[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)])
            Kernels.widen(slice, dtype: dtype, into: destination, count: range.count * cols)
        }
    }
}
