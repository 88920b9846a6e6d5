// AdamW with 8-bit moments, as bitsandbytes' Adam8bit keeps them: blocks of 256 values share
// one f32 absmax; m uses the signed dynamic map, v the unsigned one; tensors under 4,096
// values keep 32-bit state (bnb's min_8bit_size). Each update widens a parameter's moments,
// applies the same AdamW arithmetic as the 32-bit optimizer and re-quantizes them.
import TensorCore
import Quantization

/// AdamW whose first and second moments are stored in 8 bits.
public final class AdamW8bit: Optimizer {
    public var config: AdamWConfig
    public private(set) var stepCount = 0
    /// Below this many values a parameter's state stays 32-bit.
    public static let minimum8BitSize = 4096
    static let blockSize = 256

    struct State {
        var m: [UInt8], mAbsmax: [Float], v: [UInt8], vAbsmax: [Float]
    }
    private var states: [String: State] = [:]
    private let small: AdamW

    /// Creates an optimizer with empty state.
    public init(config: AdamWConfig = AdamWConfig()) {
        self.config = config
        small = AdamW(config: config)
    }

    /// Bytes of optimizer state held (8-bit codes, absmax and the 32-bit small tensors).
    public var stateBytes: Int {
        states.values.reduce(0) { $0 + $1.m.count + $1.v.count + 4 * ($1.mAbsmax.count + $1.vAbsmax.count) }
            + small.moments.values.reduce(0) { $0 + 4 * ($1.m.count + $1.v.count) }
    }

    public func step(_ parameters: [Parameter], learningRate lr: Float) {
        stepCount += 1
        let large = parameters.filter { $0.requiresGrad && $0.grad != nil && $0.value.count >= Self.minimum8BitSize }
        small.config = config
        small.step(parameters.filter { $0.value.count < Self.minimum8BitSize }, learningRate: lr)
        for p in large {
            let n = p.value.count
            let blocks = (n + Self.blockSize - 1) / Self.blockSize
            var st = states[p.name] ?? State(m: [UInt8](repeating: 0, count: n), mAbsmax: [Float](repeating: 0, count: blocks),
                                             v: [UInt8](repeating: 0, count: n), vAbsmax: [Float](repeating: 0, count: blocks))
            states[p.name] = nil
            var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
            st.m.withUnsafeBufferPointer { c in Blockwise8Bit.dequantize(codes: c, absmax: st.mAbsmax, codebook: .signed, blockSize: Self.blockSize, into: &m) }
            st.v.withUnsafeBufferPointer { c in Blockwise8Bit.dequantize(codes: c, absmax: st.vAbsmax, codebook: .unsigned, blockSize: Self.blockSize, into: &v) }
            p.value.withUnsafeMutableFloats { w in p.grad!.withUnsafeFloats { g in
                UpdateKernels.adamw(weights: w.baseAddress!, gradients: g.baseAddress!, m: &m, v: &v, count: n,
                                    learningRate: lr, config: config, step: stepCount)
            } }
            m.withUnsafeBufferPointer { Blockwise8Bit.quantize($0, codebook: .signed, blockSize: Self.blockSize, codes: &st.m, absmax: &st.mAbsmax) }
            v.withUnsafeBufferPointer { Blockwise8Bit.quantize($0, codebook: .unsigned, blockSize: Self.blockSize, codes: &st.v, absmax: &st.vAbsmax) }
            states[p.name] = st
        }
    }

    /// 8-bit state as `m8.<name>`/`m8absmax.<name>` (u8 / f32) and the like for v; small
    /// tensors as the 32-bit optimizer saves them.
    public func stateTensors(for parameters: [Parameter]) -> [(String, Tensor)] {
        var out = small.stateTensors(for: parameters)
        for p in parameters {
            guard let st = states[p.name] else { continue }
            out.append(("m8." + p.name, Self.bytes(st.m)))
            out.append(("m8absmax." + p.name, try! Tensor(shape: [st.mAbsmax.count], values: st.mAbsmax)))
            out.append(("v8." + p.name, Self.bytes(st.v)))
            out.append(("v8absmax." + p.name, try! Tensor(shape: [st.vAbsmax.count], values: st.vAbsmax)))
        }
        return out
    }

    public func restore(stepCount: Int, tensors: [String: Tensor], for parameters: [Parameter]) throws {
        try small.restore(stepCount: stepCount, tensors: tensors, for: parameters)
        self.stepCount = stepCount
        states = [:]
        for p in parameters {
            guard let m = tensors["m8." + p.name] else { continue }
            let n = p.value.count, blocks = (n + Self.blockSize - 1) / Self.blockSize
            guard let ma = tensors["m8absmax." + p.name], let v = tensors["v8." + p.name], let va = tensors["v8absmax." + p.name],
                  m.dtype == .u8, v.dtype == .u8, m.count == n, v.count == n, ma.count == blocks, va.count == blocks else {
                throw TensorError.invalidShape(op: "8-bit AdamW state of \(p.name)", shape: m.shape, expected: "\(n) codes and \(blocks) absmax values for m and v")
            }
            states[p.name] = State(m: m.withUnsafeBytes { Array($0) }, mAbsmax: ma.floats,
                                   v: v.withUnsafeBytes { Array($0) }, vAbsmax: va.floats)
        }
    }

    static func bytes(_ codes: [UInt8]) -> Tensor {
        var t = Tensor(uninitialized: [codes.count], dtype: .u8)
        t.withUnsafeMutableBytes { dst in codes.withUnsafeBytes { dst.copyMemory(from: $0) } }
        return t
    }
}
