// Reverse-mode autodiff over a tape of coarse operations. A Tape lives for one forward
// and backward pass; Parameters live across steps and accumulate gradients until zeroed.
// Only nodes that depend on a trainable tensor record anything for backward, so frozen
// weights cost no gradient memory and no gradient compute.

/// A handle to a value recorded on a `Tape`.
public struct Var: Hashable, Sendable {
    /// Position of the node on its tape.
    public let id: Int
}

/// A named, persistent tensor that may be trained. Gradients accumulate in `grad`.
public final class Parameter: @unchecked Sendable {
    /// The module path of the tensor (Hugging Face naming).
    public let name: String
    /// The current value (any storage dtype; trainable parameters are f32).
    public var value: Tensor
    /// Accumulated gradient (f32, same shape), nil until the first backward.
    public var grad: Tensor?
    /// Whether backward computes a gradient for this tensor.
    public var requiresGrad: Bool

    /// Creates a parameter; trainable parameters must be stored as f32.
    public init(name: String, value: Tensor, requiresGrad: Bool = true) {
        precondition(!requiresGrad || value.dtype == .f32, "trainable parameter \(name) must be f32")
        self.name = name
        self.value = value
        self.requiresGrad = requiresGrad
    }

    /// Drops the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

/// Records operations for one forward pass and runs them backwards.
public final class Tape {
    struct Node {
        var value: Tensor
        var needsGrad: Bool
        var op: Op?
        var parameter: Parameter?
        /// Some recorded op's backward reads this value, so `discard` must keep it.
        var readByBackward = false
        /// The value's shape, kept when the value itself is discarded or released.
        let shape: [Int]

        init(value: Tensor, needsGrad: Bool, op: Op?, parameter: Parameter?) {
            self.value = value
            self.needsGrad = needsGrad
            self.op = op
            self.parameter = parameter
            shape = value.shape
        }
    }

    /// The shape of `v`'s value (known even after the value was discarded).
    func shape(_ v: Var) -> [Int] { nodes[v.id].shape }

    var nodes: [Node] = []
    var grads: [Tensor?] = []
    /// False for inference / recomputation-free forward: no op keeps saved tensors.
    public let recordsGradients: Bool
    /// Scratch for widening narrow weights right before a product; reused, never kept.
    let scratch: WidenScratch

    /// A new, empty tape. With `recordsGradients: false` nothing is kept for backward.
    public init(recordsGradients: Bool = true) {
        self.recordsGradients = recordsGradients
        scratch = WidenScratch()
        Tape.profile?.mark()
    }

    init(recordsGradients: Bool, scratch: WidenScratch) {
        self.recordsGradients = recordsGradients
        self.scratch = scratch
        Tape.profile?.mark()
    }

    /// The value of `v`.
    public func value(_ v: Var) -> Tensor { nodes[v.id].value }

    /// The default of `widenSlabElements`: 32 M elements (128 MiB of f32).
    public static let defaultWidenSlabElements = 32 << 20

    /// Elements up to which a narrow or packed weight is widened whole before its product;
    /// a larger one is widened and multiplied a slab of rows at a time (shared with the
    /// tapes that recompute checkpointed blocks).
    public var widenSlabElements: Int {
        get { scratch.slabFloats }
        set { scratch.slabFloats = max(1, newValue) }
    }

    /// Whether backward will produce a gradient for `v`.
    public func needsGradient(_ v: Var) -> Bool { nodes[v.id].needsGrad }

    /// On a tape that records no gradients: forgets every value but `v`'s and returns `v` as
    /// the only leaf, so a long forward (layer after layer of a prompt) gives its buffers
    /// back as it goes and the next layer reuses them instead of faulting in fresh pages.
    /// Vars taken before the call are invalid after it.
    public func keepOnly(_ v: Var) -> Var {
        precondition(!recordsGradients, "keepOnly on a tape that records gradients")
        let value = nodes[v.id].value
        nodes.removeAll(keepingCapacity: true)
        grads.removeAll(keepingCapacity: true)
        return input(value)
    }

    /// A leaf holding `tensor`. With `requiresGrad`, `gradient(_:)` returns its gradient after backward.
    public func input(_ tensor: Tensor, requiresGrad: Bool = false) -> Var {
        push(Node(value: tensor, needsGrad: requiresGrad, op: nil, parameter: nil))
    }

    /// A leaf bound to a parameter: its gradient is added to `parameter.grad`.
    public func parameter(_ p: Parameter) -> Var {
        push(Node(value: p.value, needsGrad: p.requiresGrad, op: nil, parameter: p.requiresGrad ? p : nil))
    }

    /// The gradient of an input leaf after `backward` (nil when none flowed to it).
    public func gradient(_ v: Var) -> Tensor? { grads[v.id] }

    func push(_ node: Node) -> Var {
        nodes.append(node)
        grads.append(nil)
        return Var(id: nodes.count - 1)
    }

    /// Appends the result of an op; the op is kept only when a gradient must flow.
    func record(_ value: Tensor, inputs: [Var], op: @autoclosure () -> Op) -> Var {
        // needsGrad is tracked even without recording, so a checkpointed block can tell
        // whether it touches a trainable parameter.
        let needs = inputs.contains { nodes[$0.id].needsGrad }
        let kept = needs && recordsGradients ? op() : nil
        if let kept { for v in kept.valuesReadByBackward { nodes[v.id].readByBackward = true } }
        if let profile = Tape.profile { profile.recorded((kept ?? op()).kind) }
        return push(Node(value: value, needsGrad: needs, op: kept, parameter: nil))
    }

    /// Drops the values of `vars` unless a recorded backward rule reads them. The model calls
    /// this for intermediates it will not use again (e.g. q before rotary embedding), so their
    /// memory is freed during the forward pass instead of at the end of backward.
    /// Using a discarded value afterwards is a programmer error.
    public func discard(_ vars: Var...) {
        for v in vars where !nodes[v.id].readByBackward && nodes[v.id].parameter == nil && !nodes[v.id].keepsOwnOutput {
            nodes[v.id].value = Tape.released
        }
    }

    /// Backpropagates from `loss` (a scalar unless `seed` gives the upstream gradient).
    /// Parameter gradients accumulate; node values are released as the pass goes.
    public func backward(_ loss: Var, seed: Tensor? = nil) throws {
        precondition(recordsGradients, "backward on a tape that does not record gradients")
        if let seed {
            try Tensor.checkSameShape("backward seed", seed, nodes[loss.id].value)
            grads[loss.id] = seed
        } else {
            guard nodes[loss.id].value.count == 1 else {
                throw TensorError.invalidShape(op: "backward", shape: nodes[loss.id].value.shape, expected: "a scalar loss")
            }
            grads[loss.id] = Tensor(repeating: 1, shape: nodes[loss.id].value.shape)
        }
        for i in stride(from: loss.id, through: 0, by: -1) {
            // Parameter leaves never hold a tape gradient: it went straight to `grad`.
            guard nodes[i].needsGrad, let g = grads[i] else { continue }
            if let op = nodes[i].op {
                let start = Tape.profile == nil ? 0 : OpProfile.now()
                try backward(op, output: Var(id: i), gradOutput: g)
                // A checkpoint's recomputed ops charge themselves.
                if let profile = Tape.profile {
                    if case .checkpoint = op {} else { profile.addBackward(op.kind, since: start) }
                }
            }
            // Consumers of node i all come later on the tape and are done: free it.
            if nodes[i].op != nil || nodes[i].parameter != nil {
                nodes[i].value = Tape.released
                nodes[i].op = nil
                grads[i] = nil
            }
        }
        releaseParameterValues()
    }

    /// Drops this tape's references to trainable parameters' values, so an optimizer that
    /// updates them in place right after backward does not copy them (copy on write).
    func releaseParameterValues() {
        for i in nodes.indices where nodes[i].parameter != nil { nodes[i].value = Tape.released }
    }

    static let released = Tensor(zeros: [0])


    /// Adds `delta` to the gradient of `v` (allocating it on first use).
    func accumulateGradient(_ v: Var, _ delta: Tensor) {
        guard nodes[v.id].needsGrad else { return }
        if let p = nodes[v.id].parameter {
            // Parameter gradients go straight to the parameter: no tape-local copy.
            if p.grad == nil { p.grad = delta.copied() } else {
                let n = delta.count
                delta.withUnsafeFloats { src in
                    p.grad!.withUnsafeMutableFloats { dst in Kernels.accumulate(dst.baseAddress!, src.baseAddress!, n) }
                }
            }
            return
        }
        if grads[v.id] == nil {
            grads[v.id] = delta
        } else {
            let n = delta.count
            delta.withUnsafeFloats { src in
                grads[v.id]!.withUnsafeMutableFloats { dst in Kernels.accumulate(dst.baseAddress!, src.baseAddress!, n) }
            }
        }
    }

    /// Calls `body` to write this op's gradient of `v` into a fresh buffer, then adds that to
    /// what `v` already holds. Unlike `withGradientBuffer` (a gemm with beta 1 adds its partial
    /// sums to the old gradient one K-block at a time), g1 + g2 is then one addition, whichever
    /// process made g2: gradient accumulation and data-parallel ranks sum micro-batches the same
    /// way, bit for bit. Meant for small gradients (LoRA's A and B), where the copy costs nothing.
    func withOwnGradient(_ v: Var, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        guard nodes[v.id].needsGrad else { return }
        var t = Tensor(uninitialized: nodes[v.id].shape)
        t.withUnsafeMutableFloats { body($0.baseAddress!) }
        if let p = nodes[v.id].parameter, p.grad == nil { p.grad = t } else { accumulateGradient(v, t) }
    }

    /// Calls `body` with the gradient buffer of `v` and whether it already holds values
    /// (then `body` must add to it, e.g. gemm with beta 1) or is fresh (overwrite it).
    func withGradientBuffer(_ v: Var, _ body: (UnsafeMutablePointer<Float>, _ accumulate: Bool) -> Void) {
        guard nodes[v.id].needsGrad else { return }
        if let p = nodes[v.id].parameter {
            if p.grad == nil {
                var t = Tensor(uninitialized: p.value.shape)
                t.withUnsafeMutableFloats { body($0.baseAddress!, false) }
                p.grad = t
            } else {
                p.grad!.withUnsafeMutableFloats { body($0.baseAddress!, true) }
            }
            return
        }
        if grads[v.id] == nil {
            var t = Tensor(uninitialized: nodes[v.id].shape)
            t.withUnsafeMutableFloats { body($0.baseAddress!, false) }
            grads[v.id] = t
        } else {
            grads[v.id]!.withUnsafeMutableFloats { body($0.baseAddress!, true) }
        }
    }
}

/// A growable Float buffer reused for widening narrow weights before a product.
final class WidenScratch {
    private var buffer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var capacity = 1
    /// Largest narrow or packed weight (in elements) widened whole; larger ones go a slab of
    /// rows at a time, so widening needs at most this much (128 MiB of f32 by default;
    /// SmolLM2's 49152×576 head still widens whole, once per call). Dropout copies of an
    /// input use the same buffer and may grow it further.
    var slabFloats = Tape.defaultWidenSlabElements

    /// A buffer of at least `count` floats, valid until the next call.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            buffer.deallocate()
            buffer = .allocate(capacity: count)
            capacity = count
        }
        return buffer
    }

    deinit { buffer.deallocate() }
}

extension Tape.Node {
    /// Ops whose backward reads their own output.
    var keepsOwnOutput: Bool {
        switch op {
        case .attention?, .softcap?: return true
        default: return false
        }
    }
}
