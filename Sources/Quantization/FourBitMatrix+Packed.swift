// NF4/FP4 matrices as frozen linear weights: the tape widens them into its reused scratch
// right before each product (TensorCore.PackedMatrix), except for a few rows of activations
// (decoding), which multiply straight from the codes (CKernels' lk_rows_dot_4bit).
internal import CKernels
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

    /// Rows of a multiple of 16 columns (every model's linears) multiply from their codes.
    public var hasFewRowProduct: Bool { cols > 0 && cols % 16 == 0 }

    /// The product of the widened rows, bit for bit (the weights are the values `dequantize`
    /// writes, the sums `gemmFewRows`' order), made from the codes: a row of weights is read
    /// as half a byte each, plus its blocks' scales (double quantization resolved per block as
    /// `blockScales` does).
    public func productFewRows(_ x: UnsafePointer<Float>, m: Int, ldx: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        precondition(hasFewRowProduct && outputs.lowerBound >= 0 && outputs.upperBound <= rows)
        guard !outputs.isEmpty, m > 0 else { return }
        let first = outputs.lowerBound * cols
        let shift = Int32(blockSize.trailingZeroBitCount)
        func run(_ scales: lk_4bit_scales) {
            var scales = scales
            let table = type == .nf4 ? FourBitKernels.nf4Table : FourBitKernels.fp4Table
            table.withUnsafeBufferPointer { t in
                codes.withUnsafeBufferPointer { c in
                    lk_rows_dot_4bit(t.baseAddress!, x, m, ldx, c.baseAddress! + first / 2, outputs.count, cols, &scales, first,
                                     shift, y + outputs.lowerBound, ldy)
                }
            }
        }
        switch absmax {
        case let .plain(a):
            a.withUnsafeBufferPointer { run(lk_4bit_scales(absmax: $0.baseAddress!, codes: nil, code_values: nil, absmax2: nil, offset: 0, block_size2: 0)) }
        case let .doubleQuantized(d):
            d.codes.withUnsafeBufferPointer { c in
                DynamicCodebook.signed.values.withUnsafeBufferPointer { v in
                    d.absmax2.withUnsafeBufferPointer { a2 in
                        run(lk_4bit_scales(absmax: nil, codes: c.baseAddress!, code_values: v.baseAddress!, absmax2: a2.baseAddress!,
                                           offset: d.offset, block_size2: d.blockSize2))
                    }
                }
            }
        }
    }
}
