// A tensor kept in its GGML storage type: the raw blocks (usually a zero-copy window into
// a mapped GGUF file), the ggml type and the row-major shape. Callers that keep weights
// quantized hold these and widen whole matrices or row slabs right before a matmul.
import TensorCore
internal import CKernels

/// Raw GGML data with a row-major shape; the bytes stay alive as long as this value.
public struct GGMLTensor: @unchecked Sendable {
    /// The ggml storage type.
    public let type: GGMLType
    /// Sizes of each axis, outermost first (GGUF lists them innermost first).
    public let shape: [Int]
    /// The encoded bytes: `type.byteCount(elements: count)` of them.
    public let bytes: UnsafeRawBufferPointer
    /// Whatever keeps `bytes` valid (a MappedFile, or an owned buffer).
    private let owner: AnyObject?
    /// Few-row products (decoding) round each 32 activations to 8 bits and sum integer codes
    /// times them, as llama.cpp does (`lk_rows_dot_q8x`): several times faster than widening
    /// each block to f32, but no longer the dequantized matrix's exact products (each
    /// activation is off by up to half its block's step, max|x| / 254). Off (the default):
    /// f32 activations, bit for bit what the widened matrix computes.
    public var eightBitActivations = false

    /// Wraps `bytes` owned by `owner`. Throws unless the innermost axis is a whole number
    /// of blocks and `bytes` holds exactly the data the shape needs.
    public init(type: GGMLType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws {
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d)
            return (m, acc.1 || o || d < 0)
        }
        guard !overflow else { throw QuantizationError.notWholeBlocks(type, elements: -1) }
        guard (shape.last ?? 1) % type.blockSize == 0, let needed = type.byteCount(elements: count) else {
            throw QuantizationError.notWholeBlocks(type, elements: shape.last ?? 1)
        }
        guard needed == bytes.count else {
            throw QuantizationError.bufferTooSmall(type, needed: needed, available: bytes.count)
        }
        self.type = type
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// Encodes owned bytes (copied into storage this value keeps).
    public init(type: GGMLType, shape: [Int], data: [UInt8]) throws {
        let box = ByteBox(data)
        try self.init(type: type, shape: shape, bytes: box.bytes, owner: box)
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Elements per row (the innermost axis; 1 for a scalar).
    public var rowLength: Int { shape.last ?? 1 }
    /// Number of rows (all axes but the innermost).
    public var rowCount: Int { rowLength == 0 ? 0 : count / rowLength }

    /// Dequantizes rows `rows` into `dst` (room for `rows.count · rowLength` floats).
    public func dequantize(rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) throws {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw QuantizationError.rowsOutOfRange(rows, rowCount: rowCount)
        }
        try type.dequantize(bytes, rowLength: rowLength, rows: rows, into: dst)
    }

    /// The whole tensor as Float32 (a new buffer).
    public func dequantized() throws -> Tensor {
        var out = Tensor(uninitialized: shape)
        try out.withUnsafeMutableFloats { dst in
            guard let p = dst.baseAddress, count > 0 else { return }
            try type.dequantize(bytes, count: count, into: p)
        }
        return out
    }
}

/// Owned, immutable bytes with a stable address.
final class ByteBox: @unchecked Sendable {
    private let buffer: UnsafeMutableRawBufferPointer
    /// The bytes, exactly as many as were given.
    let bytes: UnsafeRawBufferPointer

    init(_ data: [UInt8]) {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { src in
            if src.count > 0 { b.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        buffer = b
        bytes = UnsafeRawBufferPointer(start: b.baseAddress, count: data.count)
    }

    deinit { buffer.deallocate() }
}

extension GGMLTensor: PackedMatrix {
    public var rows: Int { rowCount }
    public var columns: Int { rowLength }
    public var storageBytes: Int { bytes.count }
    public var encoding: String { type.name }

    public func unpack(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        // The shape and byte count were checked when this value was made, so only a caller's
        // out-of-range request could fail here: a programmer error.
        do { try dequantize(rows: range, into: destination) } catch { preconditionFailure("\(error)") }
    }
    /// Q4_0, Q4_1 and Q8_0 rows multiply straight from their blocks (CKernels' lk_rows_dot_ggml);
    /// with `eightBitActivations` also Q5_0, Q5_1, Q4_K, Q5_K and Q6_K (lk_rows_dot_q8x).
    public var hasFewRowProduct: Bool { fewRowKernel != nil || (eightBitActivations && integerKernel != nil) }

    /// The lk_rows_dot_q8x encoding of this type (K formats need whole 256-weight blocks).
    var integerKernel: Int32? {
        switch type {
        case .q4_0: Int32(LK_ROWS_Q4_0)
        case .q4_1: Int32(LK_ROWS_Q4_1)
        case .q5_0: Int32(LK_ROWS_Q5_0)
        case .q5_1: Int32(LK_ROWS_Q5_1)
        case .q8_0: Int32(LK_ROWS_Q8_0)
        case .q4_K: Int32(LK_ROWS_Q4_K)
        case .q5_K: Int32(LK_ROWS_Q5_K)
        case .q6_K: Int32(LK_ROWS_Q6_K)
        default: nil
        }
    }

    /// The lk_rows_dot_ggml encoding of this type: the formats its f32 product reads.
    var fewRowKernel: Int32? { [.q4_0, .q4_1, .q8_0].contains(type) ? integerKernel : nil }

    public func productFewRows(_ x: UnsafePointer<Float>, m: Int, ldx: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard !outputs.isEmpty else { return }
        let rowBytes = rowLength / type.blockSize * type.bytesPerBlock
        if eightBitActivations, let kernel = integerKernel {
            // Each caller (a thread's share of the outputs) rounds the few rows itself: k/32
            // blocks of 40 bytes a row, far less work than the row products that follow.
            let rowBlocks = rowLength / 32, ldxq = rowBlocks * MemoryLayout<lk_q8x_block>.stride
            withUnsafeTemporaryAllocation(byteCount: m * ldxq, alignment: 64) { xq in
                for i in 0..<m { lk_quantize_q8x(x + i * ldx, rowLength, xq.baseAddress! + i * ldxq) }
                lk_rows_dot_q8x(kernel, xq.baseAddress!, m, ldxq, bytes.baseAddress! + outputs.lowerBound * rowBytes, outputs.count,
                                rowLength, y + outputs.lowerBound, ldy)
            }
            return
        }
        guard let kernel = fewRowKernel else { return }
        lk_rows_dot_ggml(kernel, x, m, ldx, bytes.baseAddress! + outputs.lowerBound * rowBytes, outputs.count, rowLength,
                         y + outputs.lowerBound, ldy)
    }
}
