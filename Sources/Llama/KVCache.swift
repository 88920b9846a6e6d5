// Keys and values of past positions for incremental decoding (batch 1). Each layer owns a
// [capacity, Hkv, hd] buffer; attention sees a zero-copy view of the filled rows. A forward pass
// extends one sequence's cache, or (continuous batching) one cache per row of a batch of
// sequences that each add one token: then attention runs row by row against each row's cache.

import TensorCore

/// Per-layer key/value buffers for generation.
public final class KVCache {
    /// Most positions the cache can hold.
    public let capacity: Int
    /// Positions filled so far.
    public private(set) var length = 0
    /// How keys and values are stored: .f32, or .f16 (half the memory; every value rounded to
    /// binary16 as it is stored, as llama.cpp's default cache does). Attention computes in f32:
    /// with .f16 each step widens the layer's filled rows first, which costs more time than
    /// reading f32 rows does.
    public let dtype: DType
    var keys: [Tensor]
    var values: [Tensor]
    let kvHeads: Int, headDim: Int

    /// Empty buffers for `capacity` positions of a model shaped like `configuration`, stored
    /// as `dtype` (.f32 or .f16).
    public init(configuration c: LlamaConfiguration, capacity: Int, dtype: DType = .f32) {
        precondition(dtype == .f32 || dtype == .f16, "a KV cache stores f32 or f16, not \(dtype)")
        self.capacity = capacity
        self.dtype = dtype
        kvHeads = c.kvHeads
        headDim = c.headDim
        keys = (0..<c.layerCount).map { _ in Tensor(zeros: [capacity, c.kvHeads, c.headDim], dtype: dtype) }
        values = keys.map { _ in Tensor(zeros: [capacity, c.kvHeads, c.headDim], dtype: dtype) }
    }

    /// Bytes the buffers hold (all layers, keys and values, the whole capacity).
    public var byteCount: Int { 2 * keys.count * capacity * kvHeads * headDim * dtype.byteSize }

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
        let rowBytes = kvHeads * headDim * dtype.byteSize, start = length
        func store(_ new: Tensor, into buffer: inout Tensor) {
            let stored = dtype == .f32 ? new : new.narrowed(to: dtype)
            stored.withUnsafeBytes { src in
                buffer.withUnsafeMutableBytes { dst in
                    (dst.baseAddress! + start * rowBytes).copyMemory(from: src.baseAddress!, byteCount: n * rowBytes)
                }
            }
        }
        store(kv, into: &keys[layer])
        store(vv, into: &values[layer])
        let total = length + n
        var kView = try keys[layer].slice(0..<total).reshaped([1, total, kvHeads, headDim])
        var vView = try values[layer].slice(0..<total).reshaped([1, total, kvHeads, headDim])
        if dtype != .f32 { (kView, vView) = (kView.widened(), vView.widened()) }  // all filled rows, anew every step
        return (t.input(kView), t.input(vView))
    }

    func commit(_ n: Int) { length += n }
}

/// The caches one forward pass extends.
enum CacheUse {
    /// One sequence: the pass's positions follow the cache's.
    case single(KVCache)
    /// One new token per row, row b continuing `caches[b]`.
    case rows([KVCache])

    /// Appends this pass's k and v and attends: q [B, T, H, hd], k and v [B, T, Hkv, hd].
    func attend(_ t: Tape, layer: Int, q: Var, k: Var, v: Var, scale: Float? = nil, window: Int?, softcap: Float? = nil) throws -> Var {
        switch self {
        case let .single(cache):
            let (keys, values) = try cache.append(t, layer: layer, keys: k, values: v)
            return try t.attention(q: q, k: keys, v: values, scale: scale, window: window, softcap: softcap)
        case let .rows(caches):
            let qv = t.value(q), kv = t.value(k), vv = t.value(v)
            guard qv.shape[0] == caches.count, qv.shape[1] == 1 else {
                throw TensorError.invalidShape(op: "batched decode", shape: qv.shape, expected: "[\(caches.count), 1, H, hd]: one token per sequence")
            }
            var out = Tensor(uninitialized: qv.shape)
            let rowFloats = qv.count / caches.count
            for (b, cache) in caches.enumerated() {
                let (keys, values) = try cache.append(t, layer: layer, keys: t.input(try kv.slice(b..<(b + 1))),
                                                      values: t.input(try vv.slice(b..<(b + 1))))
                let a = t.value(try t.attention(q: t.input(try qv.slice(b..<(b + 1))), k: keys, v: values, scale: scale,
                                                window: window, softcap: softcap))
                a.withUnsafeFloats { src in out.withUnsafeMutableFloats { dst in
                    (dst.baseAddress! + b * rowFloats).update(from: src.baseAddress!, count: rowFloats)
                } }
            }
            return t.input(out)
        }
    }
}
