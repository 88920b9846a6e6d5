// Matrix products through cblas_sgemm (OpenBLAS on Linux, Accelerate on macOS), or in bf16
// through CKernels' AVX512_BF16 kernel while `computeDType` is .bf16. Row-major everywhere;
// `transA`/`transB` select op(A) = A or Aᵀ. The reference twins `gemmReference` and
// `gemmBF16Reference` are plain triple loops used by tests.
#if canImport(Accelerate)
import Accelerate
#elseif canImport(CBLAS)
import CBLAS
#endif
internal import CKernels
import Foundation

/// Single-precision matrix products.
public enum BLAS {
    /// C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C, all row-major with leading
    /// dimensions lda/ldb/ldc (elements between consecutive rows as stored).
    ///
    /// With OpenBLAS, a big product is split into one band of C per thread of Lorikeet's pool
    /// (`Parallel.forRanges`), each band a single-threaded sgemm: OpenBLAS's own threads would
    /// otherwise spin beside the pool's on the same cores after every call (4 runnable threads on
    /// 2 cores, 11 % system time, steps ±10 %). Each element of C is the same sum either way.
    /// `LORIKEET_BLAS_THREADS=openblas` keeps OpenBLAS's threading instead.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when k == 0; make that explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if computeDType == .bf16 {
            gemmBF16(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c, ldc: ldc)
            return
        }
        let threads = poolSplitsProducts && !openBLASThreads ? Parallel.threadCount : 1
        if m == 1 {
            // One row (decoding a token): sgemm would pack all of B on every call (measured:
            // 5 tokens/s on SmolLM2, 70 % of the time in the packing copy); gemv streams it once.
            // Threads take bands of the n outputs.
            let incA = Int32(transA ? lda : 1)
            let (ua, ub, uc) = (UncheckedSendable(a), UncheckedSendable(b), UncheckedSendable(c))
            Parallel.forRanges(n, work: threads > 1 ? n * k : 0) { cols in
                let bBand = transB ? ub.value + cols.lowerBound * ldb : ub.value + cols.lowerBound
                cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, Int32(transB ? cols.count : k),
                            Int32(transB ? k : cols.count), alpha, bBand, Int32(ldb), ua.value, incA, beta, uc.value + cols.lowerBound, 1)
            }
            return
        }
        let (ta, tb) = (transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans)
        inBands(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                threads: threads) { m, n, a, b, c in
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    /// Runs `product(m', n', a', b', c')` over bands of C: the whole of it when the product is
    /// small (m·n·k < 2²¹) or `threads` is 1, else one band of the longer side per thread of the
    /// pool, in multiples of 16 so each band keeps whole micro-tiles.
    static func inBands(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
                        product: @escaping @Sendable (Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        guard threads > 1, m * n * k >= 1 << 21, max(m, n) >= 32 else { return product(m, n, a, b, c) }
        let splitRows = m >= n
        let side = splitRows ? m : n
        let bands = min(threads, side / 16)
        let band = ((side + bands - 1) / bands + 15) / 16 * 16
        let (ua, ub, uc) = (UncheckedSendable(a), UncheckedSendable(b), UncheckedSendable(c))
        Parallel.forRanges((side + band - 1) / band, work: Int.max) { tasks in
            for t in tasks {
                let lo = t * band, count = min(band, side - lo)
                if splitRows {
                    product(count, n, transA ? ua.value + lo : ua.value + lo * lda, ub.value, uc.value + lo * ldc)
                } else {
                    product(m, count, ua.value, transB ? ub.value + lo * ldb : ub.value + lo, uc.value + lo)
                }
            }
        }
    }

    /// `gemm` in bf16 (`computeDType` .bf16): op(A) and op(B) rounded to bfloat16 (nearest even,
    /// denormals to zero), products summed in f32 by CKernels' AVX512_BF16 kernel
    /// (`lk_gemm_bf16`), in bands over the pool. One row goes the same way.
    static func gemmBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                         b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(ComputeDType.bf16.isSupported, "bf16 products need AVX512_BF16 (ComputeDType.bf16.isSupported)")
        let (ta, tb) = (Int32(transA ? 1 : 0), Int32(transB ? 1 : 0))
        inBands(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                threads: Parallel.threadCount) { m, n, a, b, c in
            let status = lk_gemm_bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            precondition(status == 0, "bf16 product: no memory for its packing buffers")
        }
    }

    /// The precision `gemm` multiplies in: f32 (the default), or bf16 where the CPU has bf16
    /// dot products (set by a training run with `compute-dtype bf16`, through
    /// `withComputeDType`). `gemmFewRows` (decoding) always stays f32. Not while other threads
    /// compute products.
    nonisolated(unsafe) public static var computeDType: ComputeDType = .f32

    /// Runs `body` with `computeDType` set to `dtype`, then restores it.
    public static func withComputeDType<R>(_ dtype: ComputeDType, _ body: () throws -> R) rethrows -> R {
        let before = computeDType
        computeDType = dtype
        defer { computeDType = before }
        return try body()
    }

    /// The bf16 twin of `gemm`: each element of op(A) and op(B) rounded as the kernel rounds it
    /// (`ComputeDType.bf16Rounded`), the products summed in Double.
    public static func gemmBF16Reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                         alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                         b: UnsafePointer<Float>, ldb: Int,
                                         beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        tripleLoop(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc, rounding: ComputeDType.bf16Rounded)
    }

    /// Whether `gemm` splits big products over Lorikeet's pool, with OpenBLAS on one thread
    /// (OpenBLAS, unless LORIKEET_BLAS_THREADS=openblas); false with Accelerate.
    public static let poolSplitsProducts: Bool = {
        #if canImport(Accelerate)
        return false
        #else
        guard ProcessInfo.processInfo.environment["LORIKEET_BLAS_THREADS"] != "openblas" else { return false }
        openblas_set_num_threads(1)
        return true
        #endif
    }()

    /// Products with at most this many rows of A (decoding: one token per sequence) go through
    /// `gemmFewRows`, whose rows do not depend on each other: a sequence decodes the same floats
    /// alone (where sgemv would serve) or in a batch (where sgemm would, rounding otherwise).
    public static let fewRows = 16

    /// C[m, n] = alpha · A[m, k] · Bᵀ (B: [n, k] row-major), plus C when `accumulate`: every
    /// element one fixed-order dot product (CKernels' lk_dot), so row i is the same whatever m
    /// is; threads split the n columns. No packing of B, which sgemm does on every call.
    public static func gemmFewRows(m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false) {
        if m == 0 || n == 0 { return }
        let (ua, ub, uc) = (UncheckedSendable(a), UncheckedSendable(b), UncheckedSendable(c))
        Parallel.forRanges(n, work: m * n * k / 4) { cols in
            lk_rows_dot_t(ua.value, m, lda, ub.value + cols.lowerBound * k, cols.count, k, uc.value + cols.lowerBound, ldc,
                          alpha, accumulate ? 1 : 0)
        }
    }

    /// The plain triple-loop twin of `gemm`, accumulating in Double.
    public static func gemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                     b: UnsafePointer<Float>, ldb: Int,
                                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        tripleLoop(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc, rounding: { $0 })
    }

    /// The reference twins' loop: each element of op(A) and op(B) passed through `rounding`,
    /// the products summed in Double.
    private static func tripleLoop(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                   a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                   beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rounding: (Float) -> Float) {
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = rounding(transA ? a[p * lda + i] : a[i * lda + p])
                    let bv = rounding(transB ? b[j * ldb + p] : b[p * ldb + j])
                    s += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * s + old)
            }
        }
    }

    /// The kernels OpenBLAS chose when it loaded (its core name, e.g. "Haswell"); nil with Accelerate.
    public static var coreName: String? {
        #if canImport(Accelerate)
        return nil
        #else
        return openblas_get_corename().map { String(cString: $0) }
        #endif
    }

    /// The OPENBLAS_CORETYPE this CPU should run when OpenBLAS chose worse: it picks kernels
    /// from the CPU model at load, and on a model it does not know (new ones, or a hypervisor's
    /// generic "Intel Xeon Processor") falls back to SSE3 (Prescott) kernels, 2–3× slower at
    /// sgemm than the AVX2 or AVX-512 ones the CPU runs. nil when OpenBLAS's choice is fine,
    /// when OPENBLAS_CORETYPE is already set, and with Accelerate. Only a fresh process can use
    /// it (the choice is made as the library loads): `lorikeet` restarts itself with it.
    public static var betterOpenBLASCore: String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, let core = coreName?.lowercased() else { return nil }
        let generic: Set<String> = ["prescott", "katmai", "coppermine", "northwood", "banias", "core2", "penryn", "dunnington",
                                    "nehalem", "atom", "unknown"]
        guard generic.contains(core) else { return nil }
        if lk_cpu_has_avx512_skx() != 0 { return "SkylakeX" }
        return lk_simd_level_supported(Int32(LK_SIMD_AVX2)) != 0 ? "Haswell" : nil
    }

    nonisolated(unsafe) static var openBLASThreads = false

    /// Runs `body` with OpenBLAS threading its own products over `Parallel.threadCount` threads,
    /// as it does by default (the raw-sgemm ceiling benchmarks compare with), then returns to the
    /// pool's bands. Not while other threads compute.
    public static func withOpenBLASThreading<R>(_ body: () throws -> R) rethrows -> R {
        #if canImport(Accelerate)
        return try body()
        #else
        guard poolSplitsProducts else { return try body() }
        openblas_set_num_threads(Int32(Parallel.threadCount))
        openBLASThreads = true
        defer {
            openBLASThreads = false
            openblas_set_num_threads(1)
        }
        return try body()
        #endif
    }

    /// Sets the number of threads BLAS may use: OpenBLAS's own when it threads its products,
    /// else it stays at one (`poolSplitsProducts`); a no-op with Accelerate.
    public static func setThreadCount(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(poolSplitsProducts ? 1 : Int32(n))
        #endif
    }
}

/// The precision matrix products multiply in (`BLAS.computeDType`); sums are f32 either way.
public enum ComputeDType: String, Codable, Sendable, CaseIterable {
    /// f32 products (sgemm).
    case f32
    /// Inputs rounded to bfloat16, products summed in f32 (PyTorch's autocast to bfloat16, with
    /// f32 outputs): about twice sgemm's rate where the CPU multiplies bf16 pairs natively.
    case bf16

    /// Whether this CPU can compute in this type: f32 always; bf16 on x86-64 with AVX512_BF16
    /// (Intel Cooper Lake, Sapphire Rapids and later, AMD Zen 4 and later). Arm's BF16
    /// instructions have no kernel here yet.
    public var isSupported: Bool {
        switch self {
        case .f32: true
        case .bf16: lk_cpu_has_avx512_bf16() != 0 && !ComputeDType.bf16HiddenForTests
        }
    }

    /// Tests set this to see how a CPU without bf16 is answered.
    nonisolated(unsafe) static var bf16HiddenForTests = false

    /// `x` rounded to bfloat16 the way the bf16 kernel rounds its inputs: to nearest even, a
    /// denormal to a zero of its sign, a NaN stays a NaN.
    public static func bf16Rounded(_ x: Float) -> Float {
        guard !x.isNaN else { return x }
        guard x.isNormal || x.isInfinite else { return x.sign == .minus ? -0.0 : 0 }
        let u = x.bitPattern
        let r = (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: r)
    }
}

extension Tensor {
    /// op(a) · op(b) for rank-2 or batched rank-3 f32 tensors ([batch, rows, cols]).
    /// Throws `shapeMismatch` naming both shapes when the inner sizes differ.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        guard a.dtype == .f32, b.dtype == .f32 else {
            throw TensorError.unsupportedDType(op: "matmul", dtype: a.dtype == .f32 ? b.dtype : a.dtype)
        }
        guard (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]) else {
            throw TensorError.shapeMismatch(op: "matmul", lhs: a.shape, rhs: b.shape)
        }
        let batch = a.rank == 3 ? a.shape[0] : 1
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        guard k == k2 else { throw TensorError.shapeMismatch(op: "matmul", lhs: a.shape, rhs: b.shape) }
        var out = Tensor(uninitialized: a.rank == 3 ? [batch, m, n] : [m, n])
        out.withUnsafeMutableFloats { c in
            a.withUnsafeFloats { pa in
                b.withUnsafeFloats { pb in
                    for i in 0..<batch {
                        BLAS.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                                  a: pa.baseAddress! + i * ar * ac, lda: ac,
                                  b: pb.baseAddress! + i * br * bc, ldb: bc,
                                  c: c.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return out
    }
}
