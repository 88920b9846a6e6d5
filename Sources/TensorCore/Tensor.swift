// Tensor: a shape, an element type and a window into shared storage. Row-major and
// contiguous; reshape and outer-axis slices are free views, everything else copies.
// Value semantics: mutation copies the window first unless this tensor owns it alone.

/// An n-dimensional, row-major array with copy-on-write storage.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Sizes of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The element type the bytes are stored in.
    public let dtype: DType
    @usableFromInline var storage: TensorStorage
    @usableFromInline var byteOffset: Int
    /// The encoded matrix of a `.packed` tensor (nil for every other dtype).
    public private(set) var packed: (any PackedMatrix)?

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of bytes the elements take (the encoded size for a packed matrix).
    public var byteCount: Int { packed?.storageBytes ?? count * dtype.byteSize }
    /// True when the bytes live in a read-only file mapping (zero-copy load).
    public var isMapped: Bool { !storage.isWritable }

    // MARK: Creation

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(zeroedByteCount: shape.reduce(1, *) * dtype.byteSize)
        byteOffset = 0
    }

    /// A tensor whose elements the caller writes before reading.
    public init(uninitialized shape: [Int], dtype: DType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in shape \(shape)")
        self.shape = shape
        self.dtype = dtype
        storage = TensorStorage(uninitializedByteCount: shape.reduce(1, *) * dtype.byteSize)
        byteOffset = 0
    }

    /// A Float32 tensor holding `values`; throws when the count does not fit `shape`.
    public init(shape: [Int], values: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else {
            throw TensorError.invalidShape(op: "Tensor(shape:values:)", shape: shape,
                                           expected: "\(values.count) elements")
        }
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { src in
            storage.base.copyMemory(from: src.baseAddress!, byteCount: values.count * 4)
        }
    }

    /// A Float32 scalar (rank 0).
    public init(scalar: Float) {
        self.init(uninitialized: [])
        storage.base.storeBytes(of: scalar, as: Float.self)
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        let p = storage.base.bindMemory(to: Float.self, capacity: count)
        p.initialize(repeating: value, count: count)
    }

    /// A zero-copy view of `byteCount` bytes at `offset` in a mapped file.
    /// Throws when the window falls outside the file or does not match the shape.
    public init(mapping file: MappedFile, offset: Int, shape: [Int], dtype: DType) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidShape(op: "Tensor(mapping:)", shape: shape, expected: "non-negative sizes")
        }
        let (n, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d)
            return (m, acc.1 || o)
        }
        let (bytes, o2) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, !o2, offset >= 0, bytes <= file.byteCount, offset <= file.byteCount - bytes else {
            throw TensorError.fileError(path: file.path,
                                        reason: "tensor of shape \(shape) (\(dtype)) at offset \(offset) lies outside the file (\(file.byteCount) bytes)")
        }
        self.shape = shape
        self.dtype = dtype
        if bytes == 0 {
            storage = TensorStorage(zeroedByteCount: 0)
        } else {
            storage = TensorStorage(mapped: file, offset: offset, byteCount: bytes)
        }
        byteOffset = 0
    }

    // MARK: Element access

    /// Reads the Float32 elements. The tensor must be f32 (use `widened()` first otherwise).
    @inlinable
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .f32, "withUnsafeFloats on a \(dtype) tensor")
        let p = storage.base.advanced(by: byteOffset).assumingMemoryBound(to: Float.self)
        return try body(UnsafeBufferPointer(start: p, count: count))
    }

    /// Writes the Float32 elements, copying first when the storage is shared or mapped.
    @inlinable
    public mutating func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        precondition(dtype == .f32, "withUnsafeMutableFloats on a \(dtype) tensor")
        makeUniqueAndWritable()
        let p = storage.base.advanced(by: byteOffset).assumingMemoryBound(to: Float.self)
        return try body(UnsafeMutableBufferPointer(start: p, count: count))
    }

    /// The raw bytes of the elements, any dtype.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base.advanced(by: byteOffset), count: byteCount))
    }

    /// The raw bytes for writing, any dtype; copies first when shared or mapped.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        makeUniqueAndWritable()
        return try body(UnsafeMutableRawBufferPointer(start: storage.base.advanced(by: byteOffset), count: byteCount))
    }

    @usableFromInline
    mutating func makeUniqueAndWritable() {
        if storage.isWritable && isKnownUniquelyReferenced(&storage) { return }
        let copy = TensorStorage(uninitializedByteCount: byteCount)
        copy.base.copyMemory(from: storage.base.advanced(by: byteOffset), byteCount: byteCount)
        storage = copy
        byteOffset = 0
    }

    /// The elements as Float32 values (widening f16/bf16/f64 and integer types).
    public var floats: [Float] {
        if dtype == .f32 { return withUnsafeFloats { Array($0) } }
        return widened().floats
    }

    /// The scalar value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with \(count) elements")
        return floats[0]
    }

    // MARK: Views

    /// The same elements with another shape (free). Throws when the counts differ.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var shape = newShape
        if let inferred = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw TensorError.invalidShape(op: "reshape", shape: newShape, expected: "a shape with \(count) elements")
            }
            shape[inferred] = count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw TensorError.shapeMismatch(op: "reshape", lhs: self.shape, rhs: newShape)
        }
        var t = self
        t.shape = shape
        return t
    }

    /// Rows `range` of the outermost axis as a view (free).
    public func slice(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError.indexOutOfRange(op: "slice", index: range.upperBound, bound: shape.first ?? 0)
        }
        var t = self
        let rowBytes = shape.dropFirst().reduce(1, *) * dtype.byteSize
        t.byteOffset += range.lowerBound * rowBytes
        t.shape[0] = range.count
        return t
    }

    /// A contiguous copy of this tensor that owns its storage.
    public func copied() -> Tensor {
        var t = Tensor(uninitialized: shape, dtype: dtype)
        withUnsafeBytes { src in
            t.withUnsafeMutableBytes { dst in dst.copyMemory(from: src) }
        }
        return t
    }

    mutating func setShape(_ newShape: [Int]) { shape = newShape }

    mutating func setPacked(_ matrix: any PackedMatrix) {
        packed = matrix
        shape = [matrix.rows, matrix.columns]
    }

    /// A Float32 copy (or self when already f32).
    public func widened() -> Tensor {
        if dtype == .f32 { return self }
        var out = Tensor(uninitialized: shape)
        if packed != nil {
            out.withUnsafeMutableFloats { dst in unpackRows(0..<shape[0], into: dst.baseAddress!) }
            return out
        }
        out.withUnsafeMutableFloats { dst in
            withUnsafeBytes { src in Kernels.widen(src, dtype: dtype, into: dst.baseAddress!, count: count) }
        }
        return out
    }

    /// This Float32 tensor narrowed to f16 or bf16 (round to nearest even).
    public func narrowed(to target: DType) -> Tensor {
        precondition(dtype == .f32, "narrowed(to:) needs an f32 tensor")
        if target == .f32 { return self }
        var out = Tensor(uninitialized: shape, dtype: target)
        withUnsafeFloats { src in
            out.withUnsafeMutableBytes { dst in Kernels.narrow(src, into: dst, dtype: target) }
        }
        return out
    }

    public var description: String {
        let values = floats
        let shown = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), \(dtype)): [\(shown)\(values.count > 8 ? ", …" : "")]"
    }
}

extension Tensor {
    /// Throws `shapeMismatch` unless both shapes are equal.
    public static func checkSameShape(_ op: String, _ a: Tensor, _ b: Tensor) throws {
        guard a.shape == b.shape else { throw TensorError.shapeMismatch(op: op, lhs: a.shape, rhs: b.shape) }
    }
}
