// RMSNorm over the last axis: y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps), as in
// Llama (weight multiplies after normalising, no mean subtraction, no bias).
// x: [N, D], w: [D], rstd: [N] saved for backward. Rows are C kernels (CKernels); the
// Double-precision `rmsnormReference` is their twin.
internal import CKernels

extension Kernels {
    static func rmsnorm(x: UnsafePointer<Float>, w: UnsafePointer<Float>?, eps: Float,
                        y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?, rows: Int, dim: Int) {
        Parallel.forRanges(rows, work: rows * dim) { r in
            let o = r.lowerBound
            lk_rmsnorm_rows(x + o * dim, w, eps, y + o * dim, rstd.map { $0 + o }, r.count, dim)
        }
    }

    /// dx = rstd · (g − x · rstd² · mean(g·x)), g = dy·w; dw += Σ_rows dy · x · rstd.
    /// `dw` accumulates per thread into a private buffer, then sums (no races).
    static func rmsnormBackward(x: UnsafePointer<Float>, w: UnsafePointer<Float>?, rstd: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
                                rows: Int, dim: Int) {
        let threads = max(1, min(Parallel.threadCount, rows))
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: threads * dim)
        partial.initialize(repeating: 0, count: threads * dim)
        defer { partial.deallocate() }
        let chunk = (rows + threads - 1) / threads
        Parallel.forRanges(threads, work: rows * dim * 3) { tr in
            for t in tr {
                let lo = t * chunk, hi = min(rows, lo + chunk)
                if lo >= hi { continue }
                let acc = dw != nil ? partial + t * dim : nil
                let g = UnsafeMutablePointer<Float>.allocate(capacity: dim)
                defer { g.deallocate() }
                lk_rmsnorm_backward_rows(x + lo * dim, w, rstd + lo, dy + lo * dim, dx.map { $0 + lo * dim }, acc, g, hi - lo, dim)
            }
        }
        if let dw {
            for t in 0..<threads { accumulate(dw, partial + t * dim, dim) }
        }
    }

    static func rmsnormReference(x: UnsafePointer<Float>, w: UnsafePointer<Float>?, eps: Float,
                                 y: UnsafeMutablePointer<Float>, rows: Int, dim: Int) {
        for row in 0..<rows {
            var ss = 0.0
            for i in 0..<dim { ss += Double(x[row * dim + i]) * Double(x[row * dim + i]) }
            let s = 1 / (ss / Double(dim) + Double(eps)).squareRoot()
            for i in 0..<dim { y[row * dim + i] = Float(Double(x[row * dim + i]) * s * Double(w?[i] ?? 1)) }
        }
    }

    /// Plain twin of `rmsnormBackward` in Double: dx is overwritten, dw accumulated into.
    static func rmsnormBackwardReference(x: UnsafePointer<Float>, w: UnsafePointer<Float>?, rstd: UnsafePointer<Float>,
                                         dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                         rows: Int, dim: Int) {
        var dwSum = [Double](repeating: 0, count: dim)
        for row in 0..<rows {
            let s = Double(rstd[row])
            var gx = 0.0
            for i in 0..<dim { gx += Double(dy[row * dim + i]) * Double(w?[i] ?? 1) * Double(x[row * dim + i]) }
            let c = gx / Double(dim) * s * s
            for i in 0..<dim {
                let g = Double(dy[row * dim + i]) * Double(w?[i] ?? 1)
                dx[row * dim + i] = Float((g - Double(x[row * dim + i]) * c) * s)
                dwSum[i] += Double(dy[row * dim + i]) * Double(x[row * dim + i]) * s
            }
        }
        for i in 0..<dim { dw[i] = Float(Double(dw[i]) + dwSum[i]) }
    }
}
