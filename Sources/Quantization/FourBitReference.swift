// Plain reference twins of the NF4/FP4 kernels: one weight at a time, written to read like
// bitsandbytes' PyTorch path (absmax, scale, clamp, bucketize, pack; code × absmax).
// Tests check the fast kernels against these bit for bit, and these against bnb fixtures.

enum FourBitReference {
    /// Unpacked codes and per-block absmax of `x`, as bnb's `quantize_4bit` (default backend).
    static func quantize(_ x: [Float], type: FourBitType, blockSize: Int) -> (codes: [UInt8], absmax: [Float]) {
        let (bounds, order) = type.decision
        var codes: [UInt8] = [], absmax: [Float] = []
        var lo = 0
        while lo < x.count {
            let block = x[lo..<min(lo + blockSize, x.count)]
            // torch's max propagates NaN.
            let m = block.contains { $0.isNaN } ? Float.nan : block.map { abs($0) }.max()!
            let clamped = m < FourBitKernels.minimumAbsmax ? FourBitKernels.minimumAbsmax : m
            let isFull = block.count == blockSize
            absmax.append(isFull ? m : clamped)
            for v in block {
                var s = isFull ? v * (1 / clamped) : v / clamped
                if s < -1 { s = -1 } else if s > 1 { s = 1 }          // NaN passes through
                codes.append(order[bucketize(s, bounds)])
            }
            lo += blockSize
        }
        return (codes, absmax)
    }

    /// The first index i with bounds[i] >= s (bounds.count when there is none, e.g. NaN).
    static func bucketize(_ s: Float, _ bounds: [Float]) -> Int {
        var i = 0
        while i < bounds.count && !(bounds[i] >= s) { i += 1 }
        return i
    }

    /// Two codes per byte, element 2i high; an odd count is padded with the code of 0.
    static func pack(_ codes: [UInt8], type: FourBitType) -> [UInt8] {
        let (bounds, order) = type.decision
        let padded = codes.count % 2 == 0 ? codes : codes + [order[bucketize(0, bounds)]]
        return stride(from: 0, to: padded.count, by: 2).map { padded[$0] << 4 | padded[$0 + 1] }
    }

    /// Unpacks `count` codes.
    static func unpack(_ packed: [UInt8], count: Int) -> [UInt8] {
        (0..<count).map { i in i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 15 }
    }

    /// Dequantizes all `count` elements: table[code] × absmax[element / blockSize].
    static func dequantize(_ packed: [UInt8], absmax: [Float], count: Int, type: FourBitType, blockSize: Int) -> [Float] {
        let table = type.dequantTable
        return unpack(packed, count: count).enumerated().map { i, c in table[Int(c)] * absmax[i / blockSize] }
    }

    /// A whole FourBitMatrix the slow way: widen, quantize, pack, and double-quantize through
    /// the reference 8-bit quantizer when asked.
    static func matrix(_ x: [Float], rows: Int, cols: Int, type: FourBitType, blockSize: Int,
                       doubleQuant: Bool) throws -> FourBitMatrix {
        let (codes, absmax) = quantize(x, type: type, blockSize: blockSize)
        let scales: FourBitAbsmax
        if doubleQuant {
            var sum: Float = 0
            absmax.withUnsafeBufferPointer { sum = TorchSum.sum($0) }
            let offset = sum / Float(absmax.count)
            let q = Blockwise8Bit.quantizeReference(absmax.map { $0 - offset }, codebook: .signed, blockSize: 256)
            scales = .doubleQuantized(try DoubleQuantizedAbsmax(codes: q.codes, absmax2: q.absmax, offset: offset))
        } else {
            scales = .plain(absmax)
        }
        return try FourBitMatrix(type: type, rows: rows, cols: cols, blockSize: blockSize,
                                 codes: pack(codes, type: type), absmax: scales)
    }
}
