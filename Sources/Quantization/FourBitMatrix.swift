// A [rows, columns] matrix in bitsandbytes' NF4/FP4 block format (QLoRA's frozen base):
// blocks run over the row-major flattening (a block may span rows), one absmax per block,
// optionally double-quantized to 8 bits, and two codes per byte with the even element high.
// Codes, absmax, offset and dequantized values are bit-identical to bitsandbytes 0.50 on CPU.
import TensorCore

/// The absmax of double quantization (`quantize_4bit(..., compress_statistics=True)`): the
/// block absmax minus their mean, quantized to 8 bits in blocks of 256 with the signed dynamic map.
public struct DoubleQuantizedAbsmax: Sendable, Equatable {
    /// One signed-dynamic-map code per 4-bit block.
    public var codes: [UInt8]
    /// One Float32 scale per `blockSize2` codes.
    public var absmax2: [Float]
    /// The mean of the first-level absmax, subtracted before quantizing (bnb `QuantState.offset`).
    public var offset: Float
    /// Codes per second-level block (bitsandbytes always uses 256).
    public let blockSize2: Int

    /// Wraps stored values; throws when `absmax2` does not have one entry per `blockSize2` codes.
    public init(codes: [UInt8], absmax2: [Float], offset: Float, blockSize2: Int = 256) throws {
        _ = try Blockwise8Bit(codes: codes, absmax: absmax2, blockSize: blockSize2, codebook: .signed)
        (self.codes, self.absmax2, self.offset, self.blockSize2) = (codes, absmax2, offset, blockSize2)
    }

    /// Double-quantizes first-level absmax values as bitsandbytes does.
    init(quantizing absmax: [Float]) {
        let offset = absmax.withUnsafeBufferPointer { TorchSum.mean($0) }
        let centered = absmax.map { $0 - offset }
        let q = try! Blockwise8Bit(quantizing: centered, codebook: .signed, blockSize: 256)
        (codes, absmax2, self.offset, blockSize2) = (q.codes, q.absmax, offset, 256)
    }

    /// The first-level absmax: `signed[code] × absmax2[block] + offset`, in Float32.
    public func dequantized() -> [Float] {
        let q = try! Blockwise8Bit(codes: codes, absmax: absmax2, blockSize: blockSize2, codebook: .signed)
        return q.dequantized().map { $0 + offset }
    }

    /// Bytes held: one per code, four per scale, four for the offset.
    public var byteCount: Int { codes.count + 4 * absmax2.count + 4 }
}

/// The per-block scales of a 4-bit matrix: plain Float32 or double-quantized.
public enum FourBitAbsmax: Sendable, Equatable {
    /// One Float32 absmax per block.
    case plain([Float])
    /// Absmax quantized to 8 bits (QLoRA's double quantization).
    case doubleQuantized(DoubleQuantizedAbsmax)

    /// The Float32 absmax of every block (dequantizing the second level when there is one).
    public var values: [Float] {
        switch self {
        case let .plain(a): a
        case let .doubleQuantized(d): d.dequantized()
        }
    }

    /// Number of 4-bit blocks the scales cover.
    public var blockCount: Int {
        switch self {
        case let .plain(a): a.count
        case let .doubleQuantized(d): d.codes.count
        }
    }

    /// Bytes the scales take.
    public var byteCount: Int {
        switch self {
        case let .plain(a): 4 * a.count
        case let .doubleQuantized(d): d.byteCount
        }
    }
}

/// A row-major matrix quantized to 4 bits per weight as bitsandbytes' `quantize_4bit`.
public struct FourBitMatrix: Sendable, Equatable {
    /// The code table (NF4 or FP4).
    public let type: FourBitType
    /// Number of rows (output features).
    public let rows: Int
    /// Number of columns (input features).
    public let cols: Int
    /// Weights per absmax block, counted over the row-major flattening.
    public let blockSize: Int
    /// Packed codes, two per byte, element 2i in the high nibble of byte i; an odd count is
    /// padded with the code of 0.
    public let codes: [UInt8]
    /// The block scales.
    public let absmax: FourBitAbsmax

    /// Number of weights.
    public var count: Int { rows * cols }
    /// Number of absmax blocks.
    public var blockCount: Int { (count + blockSize - 1) / blockSize }
    /// Bytes of the encoded matrix: packed codes plus scales.
    public var byteCount: Int { codes.count + absmax.byteCount }
    /// The 16 code values as bitsandbytes serializes them.
    public var quantMap: [Float] { type.quantMap }

    /// Quantizes a 2-D f32, f16 or bf16 tensor (half types are widened exactly first).
    /// - Parameters:
    ///   - blockSize: 32, 64 (default), 128, …, 4096, as bitsandbytes allows.
    ///   - doubleQuant: also quantize the absmax (bnb `compress_statistics=True`).
    public init(quantizing tensor: Tensor, type: FourBitType, blockSize: Int = 64, doubleQuant: Bool = false) throws {
        guard FourBitType.allowedBlockSizes.contains(blockSize) else {
            throw BlockQuantizationError.invalidBlockSize(blockSize, allowed: FourBitType.allowedBlockSizes)
        }
        guard tensor.rank == 2 else { throw BlockQuantizationError.notAMatrix(shape: tensor.shape) }
        guard [.f32, .f16, .bf16].contains(tensor.dtype), tensor.packed == nil else {
            throw BlockQuantizationError.unsupportedDType(tensor.dtype)
        }
        let (codes, absmax) = tensor.widened().withUnsafeFloats {
            FourBitKernels.quantize($0, type: type, blockSize: blockSize)
        }
        self.type = type
        rows = tensor.shape[0]
        cols = tensor.shape[1]
        self.blockSize = blockSize
        self.codes = codes
        self.absmax = doubleQuant ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax)) : .plain(absmax)
    }

    /// Quantizes one weight with fixed settings (the weight's name is ignored): the shape a model
    /// loader's linear-weight hook takes.
    public static func quantizer(type: FourBitType, blockSize: Int = 64, doubleQuant: Bool)
        -> @Sendable (String, Tensor) throws -> FourBitMatrix {
        { _, weight in try FourBitMatrix(quantizing: weight, type: type, blockSize: blockSize, doubleQuant: doubleQuant) }
    }

    /// Wraps stored codes and scales (e.g. read from a bitsandbytes checkpoint); throws when
    /// the block size is not allowed or the lengths do not fit the shape.
    public init(type: FourBitType, rows: Int, cols: Int, blockSize: Int, codes: [UInt8], absmax: FourBitAbsmax) throws {
        guard FourBitType.allowedBlockSizes.contains(blockSize) else {
            throw BlockQuantizationError.invalidBlockSize(blockSize, allowed: FourBitType.allowedBlockSizes)
        }
        let (n, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard rows >= 0, cols >= 0, !overflow, n < Int.max / 2 else { throw BlockQuantizationError.notAMatrix(shape: [rows, cols]) }
        guard codes.count == (n + 1) / 2 else {
            throw BlockQuantizationError.lengthMismatch(what: "packed codes", expected: (n + 1) / 2, actual: codes.count)
        }
        let blocks = (n + blockSize - 1) / blockSize
        guard absmax.blockCount == blocks else {
            throw BlockQuantizationError.lengthMismatch(what: "absmax", expected: blocks, actual: absmax.blockCount)
        }
        (self.type, self.rows, self.cols, self.blockSize, self.codes, self.absmax) = (type, rows, cols, blockSize, codes, absmax)
    }

    /// Writes rows `range` as Float32 (`range.count · cols` values, row-major) to `destination`:
    /// code value × block absmax, exactly as bnb's CPU `dequantize_4bit`. Any row range works,
    /// including ones that start or end inside a block.
    public func dequantize(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        let elements = (range.lowerBound * cols)..<(range.upperBound * cols)
        guard !elements.isEmpty else { return }
        let firstBlock = elements.lowerBound / blockSize
        let lastBlock = (elements.upperBound - 1) / blockSize
        let scales = blockScales(firstBlock...lastBlock)
        codes.withUnsafeBufferPointer { c in
            scales.withUnsafeBufferPointer { s in
                FourBitKernels.dequantize(codes: c.baseAddress!, scales: s.baseAddress!, firstBlock: firstBlock,
                                          blockSize: blockSize, elements: elements, type: type, into: destination)
            }
        }
    }

    /// The whole matrix as a Float32 tensor [rows, cols].
    public func dequantized() -> Tensor {
        var out = Tensor(uninitialized: [rows, cols])
        out.withUnsafeMutableFloats { dst in
            if let p = dst.baseAddress, count > 0 { dequantize(rows: 0..<rows, into: p) }
        }
        return out
    }

    /// The Float32 absmax of blocks `blocks` (resolving double quantization for those only).
    func blockScales(_ blocks: ClosedRange<Int>) -> [Float] {
        switch absmax {
        case let .plain(a):
            return Array(a[blocks])
        case let .doubleQuantized(d):
            let table = DynamicCodebook.signed.values
            return blocks.map { b in table[Int(d.codes[b])] * d.absmax2[b / d.blockSize2] + d.offset }
        }
    }
}
