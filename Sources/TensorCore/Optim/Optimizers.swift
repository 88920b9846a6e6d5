// Optimizer primitives over a list of Parameters: AdamW (decoupled weight decay, bias
// correction, the exact update order of torch.optim.AdamW), SGD with momentum, and
// global-norm gradient clipping (torch.nn.utils.clip_grad_norm_). State is keyed by
// parameter name so a checkpoint can save and restore it. The AdamW body is a C kernel
// (CKernels); `adamwReference` in Double is its twin.
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

/// An optimizer whose state can be saved in a checkpoint and restored exactly.
public protocol Optimizer: AnyObject {
    /// Updates taken so far.
    var stepCount: Int { get }
    /// One update of every trainable parameter that has a gradient.
    func step(_ parameters: [Parameter], learningRate: Float)
    /// The state of `parameters` as named tensors (for a checkpoint file).
    func stateTensors(for parameters: [Parameter]) -> [(String, Tensor)]
    /// Restores state saved by `stateTensors`; throws naming the missing or malformed tensor.
    func restore(stepCount: Int, tensors: [String: Tensor], for parameters: [Parameter]) throws
}

/// AdamW with 32-bit moments.
public final class AdamW: Optimizer {
    /// The hyper-parameters (the learning rate is passed to each step, for schedules).
    public var config: AdamWConfig
    /// Number of updates taken.
    public private(set) var stepCount = 0
    /// First and second moments by parameter name.
    public private(set) var moments: [String: (m: Tensor, v: Tensor)] = [:]

    /// Creates an optimizer with empty state.
    public init(config: AdamWConfig = AdamWConfig()) { self.config = config }

    /// Restores saved state (from a checkpoint).
    public func restore(stepCount: Int, moments: [String: (m: Tensor, v: Tensor)]) {
        self.stepCount = stepCount
        self.moments = moments
    }

    /// Moments as `m.<name>` / `v.<name>`.
    public func stateTensors(for parameters: [Parameter]) -> [(String, Tensor)] {
        parameters.flatMap { p -> [(String, Tensor)] in
            guard let mv = moments[p.name] else { return [] }
            return [("m." + p.name, mv.m), ("v." + p.name, mv.v)]
        }
    }

    public func restore(stepCount: Int, tensors: [String: Tensor], for parameters: [Parameter]) throws {
        var restored: [String: (m: Tensor, v: Tensor)] = [:]
        for p in parameters {
            guard let m = tensors["m." + p.name] else { continue }  // no update touched it yet
            guard let v = tensors["v." + p.name], m.shape == p.value.shape, v.shape == p.value.shape else {
                throw TensorError.invalidShape(op: "AdamW state of \(p.name)", shape: m.shape, expected: "\(p.value.shape) for m and v")
            }
            restored[p.name] = (m.widened().copied(), v.widened().copied())
        }
        restore(stepCount: stepCount, moments: restored)
    }

    /// The bias corrections 1 − β^t for the update after `stepCount` (t = stepCount + 1).
    func biasCorrections(forStep t: Int) -> (Float, Float) {
        (1 - pow(config.beta1, Float(t)), 1 - pow(config.beta2, Float(t)))
    }

    /// One AdamW update of `n` weights with f32 moments held by the caller (torch's order).
    public static func update(weights w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count n: Int,
                              learningRate lr: Float, config: AdamWConfig, step t: Int) {
        let bc1 = 1 - pow(config.beta1, Float(t)), bc2 = 1 - pow(config.beta2, Float(t))
        Kernels.adamw(w: w, g: g, m: m, v: v, n, lr: lr, config: config, bc1: bc1, bc2: bc2)
    }

    /// One update of every trainable parameter that has a gradient.
    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        stepCount += 1
        let (bc1, bc2) = biasCorrections(forStep: stepCount)
        for p in parameters where p.requiresGrad {
            guard let g = p.grad else { continue }
            var (m, v) = moments[p.name] ?? (Tensor(zeros: p.value.shape), Tensor(zeros: p.value.shape))
            moments[p.name] = nil  // keep m, v uniquely referenced: updated in place
            let n = g.count
            p.value.withUnsafeMutableFloats { w in m.withUnsafeMutableFloats { mp in v.withUnsafeMutableFloats { vp in
                g.withUnsafeFloats { gp in
                    Kernels.adamw(w: w.baseAddress!, g: gp.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!, n,
                                  lr: lr, config: config, bc1: bc1, bc2: bc2)
                }
            } } }
            moments[p.name] = (m, v)
        }
    }
}

/// Stochastic gradient descent with optional momentum and (coupled) weight decay.
public final class SGD {
    public var momentum: Float
    public var weightDecay: Float
    private var buffers: [String: Tensor] = [:]

    /// Creates an optimizer; momentum 0 is plain SGD.
    public init(momentum: Float = 0, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// One update: g += wd·w; buf = μ·buf + g (buf = g at first); w −= lr·buf.
    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        for p in parameters where p.requiresGrad {
            guard var g = p.grad?.copied() else { continue }
            let n = g.count
            g.withUnsafeMutableFloats { gp in
                p.value.withUnsafeFloats { wp in
                    if weightDecay != 0 { Kernels.accumulate(gp.baseAddress!, wp.baseAddress!, n, alpha: weightDecay) }
                }
            }
            if momentum != 0 {
                if var buf = buffers[p.name] {
                    buffers[p.name] = nil
                    buf.withUnsafeMutableFloats { bp in g.withUnsafeFloats { gp in
                        Kernels.scale(bp.baseAddress!, momentum, bp.baseAddress!, n)
                        Kernels.accumulate(bp.baseAddress!, gp.baseAddress!, n)
                    } }
                    g = buf
                }
                buffers[p.name] = g
            }
            p.value.withUnsafeMutableFloats { wp in g.withUnsafeFloats { gp in
                Kernels.accumulate(wp.baseAddress!, gp.baseAddress!, n, alpha: -lr)
            } }
        }
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
