// The arithmetic under the optimizers: AdamW's hyper-parameters and its update (decoupled
// weight decay, bias correction, the exact order of torch.optim.AdamW) over raw buffers, the
// vector operations SGD needs, and global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
// The optimizers themselves, with their state and checkpoints, live in FineTuning/Optimization.
// The AdamW body is a C kernel (CKernels); `adamwReference` in Double is its twin.
internal import CKernels

/// Hyper-parameters of AdamW.
public struct AdamWConfig: Sendable, Codable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.01
    /// Creates a configuration (PyTorch's defaults).
    public init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// The arithmetic of parameter updates over raw f32 buffers, for the optimizers (FineTuning's
/// Optimization folder holds AdamW, AdamW8bit, the on-disk AdamW and SGD).
public enum UpdateKernels {
    /// One AdamW update of `n` weights with f32 moments held by the caller, as update number
    /// `t` (1-based; torch.optim.AdamW's order and bias corrections).
    public static func adamw(weights w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                             m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count n: Int,
                             learningRate lr: Float, config: AdamWConfig, step t: Int) {
        let (bc1, bc2) = config.biasCorrections(step: t)
        Kernels.adamw(w: w, g: g, m: m, v: v, n, lr: lr, config: config, bc1: bc1, bc2: bc2)
    }

    /// y ← y + alpha·x over `n` values.
    public static func axpy(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, alpha: Float = 1) {
        Kernels.accumulate(y, x, n, alpha: alpha)
    }

    /// x ← s·x over `n` values.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, _ n: Int) {
        Kernels.scale(x, s, x, n)
    }
}

extension AdamWConfig {
    /// The bias corrections 1 − β^t of update number `t`.
    public func biasCorrections(step t: Int) -> (Float, Float) {
        (1 - pow(beta1, Float(t)), 1 - pow(beta2, Float(t)))
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`.
/// Returns the norm before clipping (as torch.nn.utils.clip_grad_norm_ does).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        total += g.withUnsafeFloats { gp in
            var s = 0.0
            var i = 0
            while i < gp.count { let n = min(4096, gp.count - i); s += Double(vdot(gp.baseAddress! + i, gp.baseAddress! + i, n)); i += n }
            return s
        }
    }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters where p.grad != nil {
            p.grad!.withUnsafeMutableFloats { Kernels.scale($0.baseAddress!, coef, $0.baseAddress!, $0.count) }
        }
    }
    return norm
}

extension Kernels {
    /// w ← w·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    /// w ← w − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps)   (torch.optim.AdamW's order).
    static func adamw(w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                      v: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, config c: AdamWConfig, bc1: Float, bc2: Float) {
        Parallel.forRanges(n, work: n * 4) { r in
            let o = r.lowerBound
            lk_adamw(w + o, g + o, m + o, v + o, r.count, lr, c.beta1, c.beta2, c.eps, c.weightDecay, bc1, bc2)
        }
    }

    static func adamwReference(w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                               v: UnsafeMutablePointer<Float>, _ n: Int, lr: Float, config c: AdamWConfig, bc1: Float, bc2: Float) {
        for i in 0..<n {
            let gi = Double(g[i])
            let mi = Double(c.beta1) * Double(m[i]) + (1 - Double(c.beta1)) * gi
            let vi = Double(c.beta2) * Double(v[i]) + (1 - Double(c.beta2)) * gi * gi
            m[i] = Float(mi); v[i] = Float(vi)
            let denom = vi.squareRoot() / Double(bc2).squareRoot() + Double(c.eps)
            w[i] = Float(Double(w[i]) * (1 - Double(lr) * Double(c.weightDecay)) - Double(lr) / Double(bc1) * mi / denom)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
