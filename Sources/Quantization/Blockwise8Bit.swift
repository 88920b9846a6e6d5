// 8-bit blockwise quantization as bitsandbytes' `quantize_blockwise` / `dequantize_blockwise`
// on the CPU: per block of `blockSize` consecutive values one Float32 absmax and one byte per
// value, the nearest entry of a 256-value codebook through bnb's 65 536-point lookup grid.
// Used for the double-quantized NF4/FP4 absmax and for 8-bit optimizer states.
import TensorCore

/// Values quantized to 8 bits in blocks, each block scaled by its largest magnitude.
public struct Blockwise8Bit: Sendable, Equatable {
    /// One code (index into `codebook.values`) per value.
    public var codes: [UInt8]
    /// Largest magnitude of each block (NaN is skipped, as bnb's C++ `std::max` does).
    public var absmax: [Float]
    /// Values per block.
    public let blockSize: Int
    /// The 256-entry table the codes index.
    public let codebook: DynamicCodebook

    /// Number of values.
    public var count: Int { codes.count }

    /// Quantizes `values` (bnb: `quantize_blockwise(A, code, blocksize)`). Any positive block
    /// size works; bnb documents 64…4096 and uses 256 for optimizer states.
    public init(quantizing values: UnsafeBufferPointer<Float>, codebook: DynamicCodebook = .signed,
                blockSize: Int = 256) throws {
        guard blockSize > 0 else { throw BlockQuantizationError.invalidBlockSize(blockSize, allowed: [256]) }
        self.blockSize = blockSize
        self.codebook = codebook
        codes = [UInt8](repeating: 0, count: values.count)
        absmax = [Float](repeating: 0, count: Self.blockCount(values.count, blockSize: blockSize))
        guard !values.isEmpty else { return }
        codes.withUnsafeMutableBufferPointer { c in
            absmax.withUnsafeMutableBufferPointer { a in
                Self.quantize(values, codebook: codebook, blockSize: blockSize,
                              codes: c.baseAddress!, absmax: a.baseAddress!)
            }
        }
    }

    /// Quantizes an array of values.
    public init(quantizing values: [Float], codebook: DynamicCodebook = .signed, blockSize: Int = 256) throws {
        self = try values.withUnsafeBufferPointer { try Blockwise8Bit(quantizing: $0, codebook: codebook, blockSize: blockSize) }
    }

    /// Wraps stored codes and absmax; throws when their lengths do not fit.
    public init(codes: [UInt8], absmax: [Float], blockSize: Int, codebook: DynamicCodebook) throws {
        guard blockSize > 0 else { throw BlockQuantizationError.invalidBlockSize(blockSize, allowed: [256]) }
        let blocks = Self.blockCount(codes.count, blockSize: blockSize)
        guard absmax.count == blocks else {
            throw BlockQuantizationError.lengthMismatch(what: "absmax", expected: blocks, actual: absmax.count)
        }
        (self.codes, self.absmax, self.blockSize, self.codebook) = (codes, absmax, blockSize, codebook)
    }

    /// Blocks of `blockSize` (> 0) that `n` values fill, the last one partial. Not
    /// `(n + blockSize - 1) / blockSize`: a block size read from a file (bnb's
    /// nested_blocksize) may be near Int.max, where that sum overflows and traps.
    static func blockCount(_ n: Int, blockSize: Int) -> Int {
        n / blockSize + (n % blockSize == 0 ? 0 : 1)
    }

    /// Writes the `count` dequantized values (`code value × absmax`) to `destination`.
    public func dequantize(into destination: UnsafeMutablePointer<Float>) {
        codes.withUnsafeBufferPointer { c in
            absmax.withUnsafeBufferPointer { a in
                Self.dequantize(codes: c, absmax: a.baseAddress!, codebook: codebook, blockSize: blockSize, into: destination)
            }
        }
    }

    /// The dequantized values.
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 { dequantize(into: buf.baseAddress!) }
            n = count
        }
    }

    // MARK: Kernels on caller-owned buffers (for optimizer states updated in place)

    /// Quantizes `values` into `codes` (values.count bytes) and `absmax` (one per block).
    /// Blocks are independent, so they are spread over threads.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, codebook: DynamicCodebook, blockSize: Int,
                                codes: UnsafeMutablePointer<UInt8>, absmax: UnsafeMutablePointer<Float>) {
        let n = values.count
        guard n > 0, let src = values.baseAddress else { return }
        let blocks = blockCount(n, blockSize: blockSize)
        codebook.lookup.withUnsafeBufferPointer { lutBuf in
            let lut = lutBuf.baseAddress!
            Parallel.forRanges(blocks, work: n) { range in
                for b in range {
                    let lo = b * blockSize, hi = min(lo + blockSize, n)
                    var m: Float = 0
                    for i in lo..<hi { let a = abs(src[i]); if a > m { m = a } }   // NaN never wins
                    absmax[b] = m
                    if m == 0 {
                        for i in lo..<hi { codes[i] = 0 }
                        continue
                    }
                    let inv = 1 / m
                    for i in lo..<hi { codes[i] = lut[DynamicCodebook.gridIndex(src[i] * inv)] }
                }
            }
        }
    }

    /// Reference twin of `quantize`: one block after another, the grid point's code found by
    /// counting codebook midpoints below it (no lookup table).
    static func quantizeReference(_ values: [Float], codebook: DynamicCodebook, blockSize: Int) -> (codes: [UInt8], absmax: [Float]) {
        let code = codebook.values
        let mid = (0..<255).map { Float(0.5) * (code[$0] + code[$0 + 1]) }
        var codes = [UInt8](repeating: 0, count: values.count), absmax: [Float] = []
        var lo = 0
        while lo < values.count {
            let hi = min(lo + blockSize, values.count)
            let m = values[lo..<hi].reduce(Float(0)) { acc, v in abs(v) > acc ? abs(v) : acc }
            absmax.append(m)
            if m != 0 {
                for i in lo..<hi {
                    let g = DynamicCodebook.gridIndex(values[i] * (1 / m))
                    let v: Float = -1 + (2 * Float(g)) / 65535
                    codes[i] = UInt8(mid.prefix { $0 < v }.count)
                }
            }
            lo = hi
        }
        return (codes, absmax)
    }

    /// Writes `codebook[code] × absmax[block]` for every code (bnb `dequantizeBlockwise8bitCpu`).
    public static func dequantize(codes: UnsafeBufferPointer<UInt8>, absmax: UnsafePointer<Float>, codebook: DynamicCodebook,
                                  blockSize: Int, into destination: UnsafeMutablePointer<Float>) {
        let n = codes.count
        guard n > 0, let c = codes.baseAddress else { return }
        let blocks = blockCount(n, blockSize: blockSize)
        codebook.values.withUnsafeBufferPointer { tableBuf in
            let table = tableBuf.baseAddress!
            Parallel.forRanges(blocks, work: n) { range in
                for b in range {
                    let scale = absmax[b]
                    for i in (b * blockSize)..<min(b * blockSize + blockSize, n) { destination[i] = table[Int(c[i])] * scale }
                }
            }
        }
    }

    /// Reference twin of `dequantize`: one value at a time.
    static func dequantizeReference(codes: [UInt8], absmax: [Float], codebook: DynamicCodebook, blockSize: Int) -> [Float] {
        codes.indices.map { codebook.values[Int(codes[$0])] * absmax[$0 / blockSize] }
    }
}
