// RMSNorm over the last axis: y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps), as in
// Llama (weight multiplies after normalising, no mean subtraction, no bias).
// x: [N, D], w: [D], rstd: [N] saved for backward.

extension Kernels {
    static func rmsnorm(x: UnsafePointer<Float>, w: UnsafePointer<Float>?, eps: Float,
                        y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?, rows: Int, dim: Int) {
        Parallel.forRanges(rows, work: rows * dim) { r in
            for row in r {
                let xr = x + row * dim, yr = y + row * dim
                let ms = vdot(xr, xr, dim) / Float(dim)
                let s = 1 / (ms + eps).squareRoot()
                rstd?[row] = s
                let sv = F8(repeating: s)
                var i = 0
                if let w {
                    while i + 8 <= dim { store8(load8(xr, i) * sv * load8(w, i), yr, i); i += 8 }
                    while i < dim { yr[i] = xr[i] * s * w[i]; i += 1 }
                } else {
                    while i + 8 <= dim { store8(load8(xr, i) * sv, yr, i); i += 8 }
                    while i < dim { yr[i] = xr[i] * s; i += 1 }
                }
            }
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
                let acc = partial + t * dim
                let g = UnsafeMutablePointer<Float>.allocate(capacity: dim)
                defer { g.deallocate() }
                for row in lo..<hi {
                    let xr = x + row * dim, dyr = dy + row * dim
                    let s = rstd[row]
                    if let w { for i in 0..<dim { g[i] = dyr[i] * w[i] } } else { g.update(from: dyr, count: dim) }
                    if let dx {
                        let dxr = dx + row * dim
                        let c = vdot(g, xr, dim) / Float(dim) * s * s
                        let sv = F8(repeating: s), cv = F8(repeating: -c)
                        var i = 0
                        while i + 8 <= dim { store8(load8(g, i).addingProduct(load8(xr, i), cv) * sv, dxr, i); i += 8 }
                        while i < dim { dxr[i] = (g[i] - xr[i] * c) * s; i += 1 }
                    }
                    if dw != nil {
                        let sv = F8(repeating: s)
                        var i = 0
                        while i + 8 <= dim { store8(load8(acc, i).addingProduct(load8(dyr, i) * load8(xr, i), sv), acc, i); i += 8 }
                        while i < dim { acc[i] += dyr[i] * xr[i] * s; i += 1 }
                    }
                }
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
}
