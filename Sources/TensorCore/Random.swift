// Seeded random numbers for initialisation and tests: SplitMix64 (fast, reproducible on
// every platform), Box–Muller normals, and tensor constructors built on them.

/// A reproducible 64-bit generator (SplitMix64).
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable {
    /// The internal state; saving it and restoring it resumes the same stream.
    public var state: UInt64

    /// Starts the stream at `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Normal(mean, std) values from `generator`.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    using generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(uninitialized: shape)
        t.withUnsafeMutableFloats { p in for i in p.indices { p[i] = mean + std * generator.nextNormal() } }
        return t
    }

    /// Uniform values in [low, high) from `generator`.
    public static func randomUniform(_ shape: [Int], low: Float, high: Float,
                                     using generator: inout SeededGenerator) -> Tensor {
        var t = Tensor(uninitialized: shape)
        t.withUnsafeMutableFloats { p in for i in p.indices { p[i] = low + (high - low) * generator.nextFloat() } }
        return t
    }
}
