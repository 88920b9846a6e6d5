// Which variant of the C kernels runs (CKernels: portable C, or AVX2+FMA+F16C on x86-64),
// chosen once from the CPU's features or from LORIKEET_SIMD=portable|avx2. Package-visible
// so tests can run every kernel in every variant the machine has, and benchmarks can say
// which one they measured.
internal import CKernels

/// A variant of the C kernels.
package enum SIMDLevel: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// Plain C for the architecture's baseline (SSE2 on x86-64, NEON on arm64).
    case portable = 0
    /// x86-64 with AVX2, FMA and F16C (x86-64-v3).
    case avx2 = 1

    /// The variant kernels use now.
    package static var active: SIMDLevel { SIMDLevel(rawValue: lk_simd_level()) ?? .portable }

    /// The variants this machine can run, slowest first.
    package static var supported: [SIMDLevel] { allCases.filter { lk_simd_level_supported($0.rawValue) != 0 } }

    /// "portable" or "avx2" (the LORIKEET_SIMD spelling).
    package var description: String { String(cString: lk_simd_level_name(rawValue)) }

    /// Whether kernels with an AVX-512 form (the 4-bit row product) use it at the avx2 level:
    /// by default where the CPU has AVX-512. The forms compute the avx2 variant's bits.
    package static var avx512Forms: Bool { lk_simd_avx512() != 0 }

    /// Runs `body` with the AVX-512 forms on or off (on only where the CPU has them), then
    /// restores the previous setting. For tests and benchmarks, as `run`.
    package static func withAVX512Forms<R>(_ on: Bool, _ body: () throws -> R) rethrows -> R {
        let previous = avx512Forms
        precondition(lk_simd_set_avx512(on ? 1 : 0) == 0, "this CPU has no AVX-512")
        defer { _ = lk_simd_set_avx512(previous ? 1 : 0) }
        return try body()
    }

    /// Runs `body` with every kernel switched to this variant, then restores the previous
    /// one. For tests and benchmarks: no kernel may be running on another thread meanwhile.
    package func run<R>(_ body: () throws -> R) rethrows -> R {
        let previous = SIMDLevel.active
        precondition(lk_simd_set_level(rawValue) == 0, "SIMD variant \(self) is not supported here")
        defer { _ = lk_simd_set_level(previous.rawValue) }
        return try body()
    }
}
