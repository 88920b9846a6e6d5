// The optimizers, all behind one protocol so the trainer and checkpoints treat them alike:
// AdamW with 32-bit moments (torch.optim.AdamW's exact order) and SGD with momentum, here;
// AdamW8bit and DiskBackedAdamW beside them; OptimizerChoice picks one for a run. The update
// arithmetic is TensorCore's (UpdateKernels); state is keyed by parameter name so a
// checkpoint can save and restore it.
import TensorCore

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

    /// One update of every trainable parameter that has a gradient.
    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        stepCount += 1
        for p in parameters where p.requiresGrad {
            guard let g = p.grad else { continue }
            var (m, v) = moments[p.name] ?? (Tensor(zeros: p.value.shape), Tensor(zeros: p.value.shape))
            moments[p.name] = nil  // keep m, v uniquely referenced: updated in place
            let n = g.count
            p.value.withUnsafeMutableFloats { w in m.withUnsafeMutableFloats { mp in v.withUnsafeMutableFloats { vp in
                g.withUnsafeFloats { gp in
                    UpdateKernels.adamw(weights: w.baseAddress!, gradients: gp.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!,
                                        count: n, learningRate: lr, config: config, step: stepCount)
                }
            } } }
            moments[p.name] = (m, v)
        }
    }
}

/// Stochastic gradient descent with optional momentum and (coupled) weight decay (torch.optim.SGD).
public final class SGD: Optimizer {
    /// Momentum μ (0: plain SGD).
    public var momentum: Float
    /// Weight decay added to the gradient.
    public var weightDecay: Float
    /// Updates taken so far.
    public private(set) var stepCount = 0
    /// Momentum buffers by parameter name.
    private var buffers: [String: Tensor] = [:]

    /// Creates an optimizer; momentum 0 is plain SGD.
    public init(momentum: Float = 0, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// One update: g += wd·w; buf = μ·buf + g (buf = g at first); w −= lr·buf.
    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        stepCount += 1
        for p in parameters where p.requiresGrad {
            guard var g = p.grad?.copied() else { continue }
            let n = g.count
            g.withUnsafeMutableFloats { gp in
                p.value.withUnsafeFloats { wp in
                    if weightDecay != 0 { UpdateKernels.axpy(gp.baseAddress!, wp.baseAddress!, n, alpha: weightDecay) }
                }
            }
            if momentum != 0 {
                if var buf = buffers[p.name] {
                    buffers[p.name] = nil
                    buf.withUnsafeMutableFloats { bp in g.withUnsafeFloats { gp in
                        UpdateKernels.scale(bp.baseAddress!, by: momentum, n)
                        UpdateKernels.axpy(bp.baseAddress!, gp.baseAddress!, n)
                    } }
                    g = buf
                }
                buffers[p.name] = g
            }
            p.value.withUnsafeMutableFloats { wp in g.withUnsafeFloats { gp in
                UpdateKernels.axpy(wp.baseAddress!, gp.baseAddress!, n, alpha: -lr)
            } }
        }
    }

    /// Momentum buffers as `momentum.<name>`.
    public func stateTensors(for parameters: [Parameter]) -> [(String, Tensor)] {
        parameters.compactMap { p in buffers[p.name].map { ("momentum." + p.name, $0) } }
    }

    /// Restores buffers saved by `stateTensors`; throws naming a buffer of the wrong shape.
    public func restore(stepCount: Int, tensors: [String: Tensor], for parameters: [Parameter]) throws {
        var restored: [String: Tensor] = [:]
        for p in parameters {
            guard let b = tensors["momentum." + p.name] else { continue }  // no update touched it yet
            guard b.shape == p.value.shape else {
                throw TensorError.invalidShape(op: "SGD state of \(p.name)", shape: b.shape, expected: "\(p.value.shape)")
            }
            restored[p.name] = b.widened().copied()
        }
        self.stepCount = stepCount
        buffers = restored
    }
}
