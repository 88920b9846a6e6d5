// Measures the kernels of one SmolLM2-135M training step (T tokens): every matrix product
// of forward and backward through our wrapper and through raw cblas_sgemm side by side,
// (and in bf16, rows marked "bf16", where the CPU has AVX512_BF16), and the memory-bound
// kernels in GB/s. Returns rows; the CLI prints them.
import Foundation
#if canImport(Accelerate)
import Accelerate
#elseif canImport(CBLAS)
import CBLAS
#endif

/// One measured kernel.
public struct KernelBenchmarkRow: Sendable, Codable {
    /// What was measured, e.g. "linear fwd x·Wᵀ".
    public var kernel: String
    /// Problem size in words, e.g. "1024×576 · 576×1536ᵀ".
    public var shape: String
    /// GFLOP/s (products) or GB/s (memory-bound kernels) through Lorikeet.
    public var ours: Double
    /// The same product through raw cblas_sgemm (nil for non-BLAS kernels).
    public var rawSgemm: Double?
    /// "GFLOP/s" or "GB/s".
    public var unit: String

    /// A measured row.
    public init(kernel: String, shape: String, ours: Double, rawSgemm: Double?, unit: String) {
        self.kernel = kernel
        self.shape = shape
        self.ours = ours
        self.rawSgemm = rawSgemm
        self.unit = unit
    }
}

/// Kernel benchmarks at the shapes of a SmolLM2-135M step.
public enum KernelBenchmark {
    /// Runs all benchmarks for `tokens` tokens; each case runs for at least `minSeconds`.
    public static func run(tokens t: Int = 1024, minSeconds: Double = 0.3) -> [KernelBenchmarkRow] {
        var rows: [KernelBenchmarkRow] = []
        // (in, out) of SmolLM2's linears: q/o, k/v, gate/up, down, lm head; then a rank-16 LoRA
        // pair on q's input and output (down d = x·Aᵀ, up d·Bᵀ, and their backward products).
        let linears = [(576, 576), (576, 192), (576, 1536), (1536, 576), (576, 49152), (576, 16), (16, 576)]
        for (inF, outF) in linears {
            let x = Tensor(repeating: 0.01, shape: [t, inF])
            let w = Tensor(repeating: 0.02, shape: [outF, inF])
            let dy = Tensor(repeating: 0.03, shape: [t, outF])
            let flops = 2.0 * Double(t) * Double(inF) * Double(outF)
            // (name, transA, transB, a, b, m, n, k)
            let cases: [(String, String, Bool, Bool, Tensor, Tensor, Int, Int, Int)] = [
                ("linear fwd  y = x·Wᵀ", "\(t)×\(inF) · (\(outF)×\(inF))ᵀ", false, true, x, w, t, outF, inF),
                ("linear bwd dx = dy·W", "\(t)×\(outF) · \(outF)×\(inF)", false, false, dy, w, t, inF, outF),
                ("linear bwd dW = dyᵀ·x", "(\(t)×\(outF))ᵀ · \(t)×\(inF)", true, false, dy, x, outF, inF, t),
            ]
            for (name, shape, ta, tb, a, b, m, n, k) in cases {
                // Alternate the two a few times and keep each one's best: the machine is
                // shared, and interleaving keeps a burst of other load from favouring either.
                var ours = Double.infinity, raw = Double.infinity, bf16 = Double.infinity
                var c = Tensor(zeros: [m, n])
                for _ in 0..<3 {
                    ours = min(ours, measure(minSeconds / 3) {
                        let c = try! Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
                        precondition(c.count == m * n)
                    })
                    if ComputeDType.bf16.isSupported {
                        bf16 = min(bf16, BLAS.withComputeDType(.bf16) {
                            measure(minSeconds / 3) { _ = try! Tensor.matmul(a, b, transposeA: ta, transposeB: tb) }
                        })
                    }
                    raw = min(raw, BLAS.withOpenBLASThreading { c.withUnsafeMutableFloats { cp in
                        a.withUnsafeFloats { ap in b.withUnsafeFloats { bp in
                            measure(minSeconds / 3) {
                                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                                            Int32(m), Int32(n), Int32(k), 1, ap.baseAddress!, Int32(a.shape[1]),
                                            bp.baseAddress!, Int32(b.shape[1]), 0, cp.baseAddress!, Int32(n))
                            }
                        } }
                    } })
                }
                rows.append(KernelBenchmarkRow(kernel: name, shape: shape, ours: flops / ours / 1e9,
                                               rawSgemm: flops / raw / 1e9, unit: "GFLOP/s"))
                if bf16.isFinite {
                    rows.append(KernelBenchmarkRow(kernel: name + " bf16", shape: shape, ours: flops / bf16 / 1e9,
                                                   rawSgemm: flops / raw / 1e9, unit: "GFLOP/s"))
                }
            }
        }
        rows += memoryBound(tokens: t, minSeconds: minSeconds)
        return rows
    }

    static func memoryBound(tokens t: Int, minSeconds: Double) -> [KernelBenchmarkRow] {
        var rows: [KernelBenchmarkRow] = []
        func add(_ name: String, _ shape: String, bytes: Int, _ body: () -> Void) {
            let s = measure(minSeconds, body)
            rows.append(KernelBenchmarkRow(kernel: name, shape: shape, ours: Double(bytes) / s / 1e9, rawSgemm: nil, unit: "GB/s"))
        }
        let d = 576, hidden = 1536, vocab = 49152, heads = 9
        var x = Tensor.filled([t, d]), y = Tensor(zeros: [t, d]), w = Tensor.filled([d]), rstd = Tensor(zeros: [t])
        var dx = Tensor(zeros: [t, d]), dw = Tensor(zeros: [d])
        x.withUnsafeMutableFloats { xp in y.withUnsafeMutableFloats { yp in w.withUnsafeMutableFloats { wp in
            rstd.withUnsafeMutableFloats { rp in dx.withUnsafeMutableFloats { dxp in dw.withUnsafeMutableFloats { dwp in
                add("rmsnorm fwd", "\(t)×\(d)", bytes: 2 * t * d * 4) {
                    Kernels.rmsnorm(x: xp.baseAddress!, w: wp.baseAddress!, eps: 1e-5, y: yp.baseAddress!, rstd: rp.baseAddress!, rows: t, dim: d)
                }
                add("rmsnorm bwd", "\(t)×\(d)", bytes: 3 * t * d * 4) {
                    Kernels.rmsnormBackward(x: xp.baseAddress!, w: wp.baseAddress!, rstd: rp.baseAddress!, dy: yp.baseAddress!,
                                            dx: dxp.baseAddress!, dw: dwp.baseAddress!, rows: t, dim: d)
                }
            } } }
        } } }
        var s = Tensor.filled([heads * t, t])
        s.withUnsafeMutableFloats { sp in
            add("softmax (attention rows)", "\(heads)·\(t)×\(t)", bytes: 2 * heads * t * t * 4) {
                Kernels.softmaxRows(sp.baseAddress!, rows: heads * t, cols: t)
            }
        }
        var g = Tensor.filled([t, hidden]), u = Tensor.filled([t, hidden]), o = Tensor(zeros: [t, hidden]), o2 = Tensor(zeros: [t, hidden])
        g.withUnsafeMutableFloats { gp in u.withUnsafeMutableFloats { up in o.withUnsafeMutableFloats { op in o2.withUnsafeMutableFloats { o2p in
            add("SwiGLU fwd", "\(t)×\(hidden)", bytes: 3 * t * hidden * 4) {
                Kernels.swiglu(gate: gp.baseAddress!, up: up.baseAddress!, out: op.baseAddress!, t * hidden)
            }
            add("SwiGLU bwd", "\(t)×\(hidden)", bytes: 5 * t * hidden * 4) {
                Kernels.swigluBackward(gate: gp.baseAddress!, up: up.baseAddress!, dy: op.baseAddress!,
                                       dGate: o2p.baseAddress!, dUp: gp.baseAddress!, t * hidden)
            }
        } } } }
        var logits = Tensor.filled([t, vocab]), grad = Tensor(zeros: [t, vocab])
        let targets = (0..<t).map { Int32($0 * 37 % vocab) }
        var loss = [Float](repeating: 0, count: t)
        logits.withUnsafeMutableFloats { lp in grad.withUnsafeMutableFloats { gp in
            add("cross-entropy fwd+grad", "\(t)×\(vocab)", bytes: 2 * t * vocab * 4) {
                Kernels.crossEntropy(logits: lp.baseAddress!, targets: targets, ignoreIndex: -100, rows: t, vocab: vocab,
                                     gradScale: 1 / Float(t), loss: &loss, grad: gp.baseAddress!)
            }
        } }
        rows += optimizerAndWidening(tokens: t, minSeconds: minSeconds)
        return rows
    }

    /// AdamW, rotary embedding, axpy and the f16/bf16 widen/narrow kernels (what a step pays
    /// outside the products and the rows above), GB/s of memory touched.
    static func optimizerAndWidening(tokens t: Int, minSeconds: Double) -> [KernelBenchmarkRow] {
        var rows: [KernelBenchmarkRow] = []
        func add(_ name: String, _ shape: String, bytes: Int, _ body: () -> Void) {
            let s = measure(minSeconds, body)
            rows.append(KernelBenchmarkRow(kernel: name, shape: shape, ours: Double(bytes) / s / 1e9, rawSgemm: nil, unit: "GB/s"))
        }
        let (d, hidden, heads, hd) = (576, 1536, 9, 64)
        let n = d * hidden
        var w = Tensor.filled([n]), g = Tensor.filled([n]), m = Tensor(zeros: [n]), v = Tensor(zeros: [n])
        w.withUnsafeMutableFloats { wp in g.withUnsafeMutableFloats { gp in m.withUnsafeMutableFloats { mp in v.withUnsafeMutableFloats { vp in
            add("AdamW step", "\(hidden)×\(d)", bytes: 7 * n * 4) {
                Kernels.adamw(w: wp.baseAddress!, g: gp.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!, n,
                              lr: 1e-5, config: AdamWConfig(), bc1: 0.1, bc2: 0.001)
            }
            add("axpy dst += a·src", "\(hidden)×\(d)", bytes: 3 * n * 4) {
                Kernels.accumulate(mp.baseAddress!, gp.baseAddress!, n, alpha: 1e-3)
            }
        } } } }
        let table = RopeTable(inverseFrequencies: RopeTable.defaultInverseFrequencies(headDim: hd, base: 10_000), maxPositions: t)
        let positions = (0..<t).map { Int32($0) }
        var x = Tensor.filled([t, heads, hd]), y = Tensor(zeros: [t, heads, hd])
        x.withUnsafeMutableFloats { xp in y.withUnsafeMutableFloats { yp in
            add("rope fwd", "\(t)×\(heads)×\(hd)", bytes: 2 * t * heads * hd * 4) {
                Kernels.rope(x: xp.baseAddress!, y: yp.baseAddress!, positions: positions, tokens: t, heads: heads, headDim: hd,
                             table: table, layout: .halfSplit, inverse: false)
            }
        } }
        let weight = Tensor.filled([hidden, d])
        var out = Tensor(zeros: [hidden, d])
        for dtype in [DType.f16, .bf16] {
            let narrow = weight.narrowed(to: dtype)
            out.withUnsafeMutableFloats { op in narrow.withUnsafeBytes { src in
                add("widen \(dtype) → f32", "\(hidden)×\(d)", bytes: n * 6) {
                    Kernels.widen(src, dtype: dtype, into: op.baseAddress!, count: n)
                }
            } }
            var narrowOut = Tensor(zeros: [hidden, d], dtype: dtype)
            weight.withUnsafeFloats { src in narrowOut.withUnsafeMutableBytes { dst in
                add("narrow f32 → \(dtype)", "\(hidden)×\(d)", bytes: n * 6) {
                    Kernels.narrow(src, into: dst, dtype: dtype)
                }
            } }
        }
        return rows
    }

    /// Seconds per call of `body`: one warm-up call, then repeats until `minSeconds` pass.
    public static func measure(_ minSeconds: Double, _ body: () -> Void) -> Double {
        body()
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            body()
            calls += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < minSeconds
        return elapsed / Double(calls)
    }
}

extension Tensor {
    /// Deterministic non-constant values in [-1, 1) for benchmarks.
    static func filled(_ shape: [Int]) -> Tensor {
        var g = SeededGenerator(seed: 1)
        return Tensor.randomUniform(shape, low: -1, high: 1, using: &g)
    }
}
