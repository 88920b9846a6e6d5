// Keys and values of past positions for incremental decoding (batch 1). Each layer owns a
// [capacity, Hkv, hd] buffer; attention sees a zero-copy view of the filled rows.
import TensorCore

/// Per-layer key/value buffers for generation.
public final class KVCache {
    /// Most positions the cache can hold.
    public let capacity: Int
    /// Positions filled so far.
    public private(set) var length = 0
    var keys: [Tensor]
    var values: [Tensor]
    let kvHeads: Int, headDim: Int

    /// Empty buffers for `capacity` positions of a model shaped like `configuration`.
    public init(configuration c: LlamaConfiguration, capacity: Int) {
        self.capacity = capacity
        kvHeads = c.kvHeads
        headDim = c.headDim
        keys = (0..<c.layerCount).map { _ in Tensor(zeros: [capacity, c.kvHeads, c.headDim]) }
        values = keys.map { _ in Tensor(zeros: [capacity, c.kvHeads, c.headDim]) }
    }

    /// Forgets everything after the first `n` positions (n ≤ length).
    public func truncate(to n: Int) { length = min(length, max(0, n)) }

    /// Writes this step's k, v ([1, n, Hkv, hd]) after the filled rows of `layer` and returns
    /// views of all rows so far ([1, length + n, Hkv, hd]) as tape inputs.
    func append(_ t: Tape, layer: Int, keys k: Var, values v: Var) throws -> (Var, Var) {
        let kv = t.value(k), vv = t.value(v)
        let n = kv.shape[1]
        guard kv.shape[0] == 1, length + n <= capacity else {
            throw TensorError.invalidShape(op: "KV cache", shape: kv.shape,
                                           expected: "batch 1 and at most \(capacity - length) new positions")
        }
        let rowFloats = kvHeads * headDim
        kv.withUnsafeFloats { src in
            keys[layer].withUnsafeMutableFloats { dst in
                (dst.baseAddress! + length * rowFloats).update(from: src.baseAddress!, count: n * rowFloats)
            }
        }
        vv.withUnsafeFloats { src in
            values[layer].withUnsafeMutableFloats { dst in
                (dst.baseAddress! + length * rowFloats).update(from: src.baseAddress!, count: n * rowFloats)
            }
        }
        let total = length + n
        let kView = try keys[layer].slice(0..<total).reshaped([1, total, kvHeads, headDim])
        let vView = try values[layer].slice(0..<total).reshaped([1, total, kvHeads, headDim])
        return (t.input(kView), t.input(vView))
    }

    func commit(_ n: Int) { length += n }
}
