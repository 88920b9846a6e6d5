// The two 4-bit code tables of bitsandbytes (NF4, FP4/E2M1), the decision points its CPU
// quantizer uses, and the errors of the block quantizers. Values and orderings follow
// bitsandbytes 0.50 (`functional.get_4bit_type`, `backends/default/ops.py`, `csrc/cpu_ops.cpp`).
import TensorCore

/// A 4-bit code table of bitsandbytes.
public enum FourBitType: String, Sendable, CaseIterable, Codable {
    /// NormalFloat4: quantiles of N(0, 1), sorted, 0 at index 7.
    case nf4
    /// bitsandbytes' FP4 (E2M1 with its own bit order): sign in bit 3, then a 3-bit magnitude code.
    case fp4

    /// The 16 code values as bitsandbytes serializes them (`QuantState.code`, "quant_map").
    /// FP4 is `[0, 0.0625, 8, 12, 4, 6, 2, 3, -0, …] / 12` where Python's `-0` is the integer 0,
    /// so index 8 holds +0.0 here.
    public var quantMap: [Float] {
        switch self {
        case .nf4: Self.nf4Values
        case .fp4: Self.fp4Raw.map { $0 / 12 }
        }
    }

    /// The name bitsandbytes and the safetensors metadata use ("nf4" / "fp4").
    public var encodingName: String { rawValue.uppercased() }

    static let nf4Values: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]
    static let fp4Raw: [Float] = [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3]

    /// The table the dequantizer multiplies by absmax: bnb's C++ CPU kernel (`fp4_lut`), which
    /// differs from `quantMap` only in FP4 index 8 (-0.0 there), so outputs match bit for bit.
    var dequantTable: [Float] {
        var t = quantMap
        if self == .fp4 { t[8] = -0.0 }
        return t
    }

    /// Decision points and code order of bnb's CPU quantizer (`_get_4bit_quantize_bounds`):
    /// the codes sorted by value (stable: FP4's +0 at 0 before the +0 at 8), and the 15
    /// midpoints `(a + b) / 2` between sorted neighbours, in Float32.
    var decision: (bounds: [Float], order: [UInt8]) {
        switch self {
        case .nf4: Self.nf4Decision
        case .fp4: Self.fp4Decision
        }
    }

    private static let nf4Decision = makeDecision(nf4Values)
    private static let fp4Decision = makeDecision(fp4Raw.map { $0 / 12 })

    private static func makeDecision(_ code: [Float]) -> (bounds: [Float], order: [UInt8]) {
        let order = code.indices.sorted { a, b in code[a] < code[b] || (code[a] == code[b] && a < b) }
        let bounds = (0..<15).map { (code[order[$0]] + code[order[$0 + 1]]) / 2 }
        return (bounds, order.map { UInt8($0) })
    }

    /// Block sizes bitsandbytes accepts for 4-bit quantization.
    public static let allowedBlockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096]
}

/// An error raised by the NF4/FP4 and 8-bit blockwise quantizers.
public enum BlockQuantizationError: Error, Equatable, CustomStringConvertible {
    /// The block size is not one the format allows.
    case invalidBlockSize(Int, allowed: [Int])
    /// The source tensor's element type cannot be quantized (f32, f16 and bf16 can).
    case unsupportedDType(DType)
    /// The source is not a [rows, columns] matrix.
    case notAMatrix(shape: [Int])
    /// A stored array has the wrong length for the shape and block size.
    case lengthMismatch(what: String, expected: Int, actual: Int)
    /// A codebook does not have 256 sorted entries.
    case invalidCodebook(String)

    /// A message naming what was given and what was expected.
    public var description: String {
        switch self {
        case let .invalidBlockSize(b, allowed):
            "block size \(b) is not one of \(allowed.map(String.init).joined(separator: ", "))"
        case let .unsupportedDType(t):
            "cannot quantize a \(t) tensor: expected f32, f16 or bf16"
        case let .notAMatrix(shape):
            "expected a [rows, columns] matrix, got shape \(shape)"
        case let .lengthMismatch(what, expected, actual):
            "\(what) holds \(actual) values but \(expected) are needed"
        case let .invalidCodebook(why):
            "invalid 8-bit codebook: \(why)"
        }
    }
}
