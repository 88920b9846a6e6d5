// Dequantizing GGML data to Float32: whole buffers or a contiguous range of rows, so a
// caller can widen a big matrix in row slabs into a reused scratch buffer. Large jobs are
// split across cores by blocks. The block kernels are C (CKernels, picked per CPU); the
// plain twin is `dequantizeReference` (GGMLReference).

import TensorCore
internal import CKernels

extension GGMLType {
    /// Types this module can dequantize.
    public static let dequantizable: Set<GGMLType> = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
        .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
    ]

    /// True when `dequantize` supports this type.
    public var canDequantize: Bool { Self.dequantizable.contains(self) }

    /// Dequantizes the first `count` elements of `src` (a whole number of blocks) into
    /// `dst`, which must have room for `count` floats.
    /// Throws when the type is unsupported, `count` is not whole blocks or `src` is short.
    public func dequantize(_ src: UnsafeRawBufferPointer, count: Int,
                           into dst: UnsafeMutablePointer<Float>) throws {
        let bytes = try checkedByteCount(count, available: src.count)
        guard canDequantize else { throw QuantizationError.unsupportedType(self, operation: "dequantize") }
        guard count > 0, let base = src.baseAddress else { return }
        _ = bytes
        let bs = blockSize, bpb = bytesPerBlock
        let blocks = count / bs
        Parallel.forRanges(blocks, work: count) { r in
            self.dequantizeBlocks(base + r.lowerBound * bpb, blocks: r.count,
                                  into: dst + r.lowerBound * bs)
        }
    }

    /// Dequantizes rows `rows` of a row-major matrix whose rows hold `rowLength` elements
    /// (a whole number of blocks) and whose data starts at `src`. Writes
    /// `rows.count · rowLength` floats to `dst`.
    public func dequantize(_ src: UnsafeRawBufferPointer, rowLength: Int, rows: Range<Int>,
                           into dst: UnsafeMutablePointer<Float>) throws {
        guard let rowBytes = byteCount(elements: rowLength) else {
            throw QuantizationError.notWholeBlocks(self, elements: rowLength)
        }
        guard rows.lowerBound >= 0 else {
            throw QuantizationError.rowsOutOfRange(rows, rowCount: rowBytes == 0 ? 0 : src.count / rowBytes)
        }
        let (end, o1) = rows.upperBound.multipliedReportingOverflow(by: rowBytes)
        let (count, o2) = rows.count.multipliedReportingOverflow(by: rowLength)
        guard !o1, !o2, end <= src.count else {
            throw QuantizationError.rowsOutOfRange(rows, rowCount: rowBytes == 0 ? 0 : src.count / rowBytes)
        }
        guard count > 0 else { return }
        let start = rows.lowerBound * rowBytes
        try dequantize(UnsafeRawBufferPointer(rebasing: src[start..<end]), count: count, into: dst)
    }

    /// The reference twin of `dequantize(_:count:into:)`: one element at a time.
    func dequantizeReference(_ src: UnsafeRawBufferPointer, count: Int,
                             into dst: UnsafeMutablePointer<Float>) throws {
        _ = try checkedByteCount(count, available: src.count)
        guard count > 0, let base = src.baseAddress else { return }
        try GGMLReference.dequantize(self, base, count: count, into: dst)
    }

    /// Bytes `count` elements need; throws unless they are whole blocks within `available`.
    func checkedByteCount(_ count: Int, available: Int) throws -> Int {
        guard let bytes = byteCount(elements: count) else {
            throw QuantizationError.notWholeBlocks(self, elements: count)
        }
        guard bytes <= available else {
            throw QuantizationError.bufferTooSmall(self, needed: bytes, available: available)
        }
        return bytes
    }

    /// Decodes `blocks` whole blocks (the C kernels of CKernels; layouts in their comments,
    /// from ggml-common.h); the type must be dequantizable.
    func dequantizeBlocks(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: blocks * 4)  // src may be unaligned
        case .f16: lk_f16_to_f32(src, dst, blocks)
        case .bf16: lk_bf16_to_f32(src, dst, blocks)
        case .q4_0: lk_ggml_q4_0(src, blocks, dst)
        case .q4_1: lk_ggml_q4_1(src, blocks, dst)
        case .q5_0: lk_ggml_q5_0(src, blocks, dst)
        case .q5_1: lk_ggml_q5_1(src, blocks, dst)
        case .q8_0: lk_ggml_q8_0(src, blocks, dst)
        case .q2_K: lk_ggml_q2_k(src, blocks, dst)
        case .q3_K: lk_ggml_q3_k(src, blocks, dst)
        case .q4_K: lk_ggml_q4_k(src, blocks, dst)
        case .q5_K: lk_ggml_q5_k(src, blocks, dst)
        case .q6_K: lk_ggml_q6_k(src, blocks, dst)
        case .q8_K: lk_ggml_q8_k(src, blocks, dst)
        default: preconditionFailure("dequantizeBlocks called for \(self)")
        }
    }
}
