// The output head and the loss as one operation: loss = CE(h·Wᵀ, targets). The logits are
// formed a chunk of rows at a time and only for rows that have a target, and each chunk's
// gradient flows into dH (and dW) right away, so the full [N, V] logits never exist
// (SmolLM2 at 1024 tokens: 200 MB of logits, and as much again for their gradient). A narrow
// head too big to widen whole is widened a slab of vocabulary rows at a time, per chunk.
// h: [N, D], W: [V, D], targets: [N] with ignoreIndex for rows that do not count.

extension Tape {
    /// Σ CE(h·Wᵀ, targets) / normalizer over rows whose target is not `ignoreIndex`
    /// (normalizer defaults to the number of such rows).
    public func linearCrossEntropy(_ h: Var, weight w: Var, targets: [Int32], ignoreIndex: Int32 = -100,
                                   normalizer: Float? = nil, chunkRows: Int = 256) throws -> Var {
        let hv = value(h), wv = value(w)
        guard wv.rank == 2, let dim = hv.shape.last, dim == wv.shape[1] else {
            throw TensorError.shapeMismatch(op: "linearCrossEntropy", lhs: hv.shape, rhs: wv.shape)
        }
        let vocab = wv.shape[0]
        let n = hv.count / max(dim, 1)
        guard targets.count == n else { throw TensorError.shapeMismatch(op: "linearCrossEntropy targets", lhs: hv.shape, rhs: [targets.count]) }
        if let bad = targets.first(where: { $0 != ignoreIndex && ($0 < 0 || Int($0) >= vocab) }) {
            throw TensorError.indexOutOfRange(op: "linearCrossEntropy target", index: Int(bad), bound: vocab)
        }
        let rows = targets.indices.filter { targets[$0] != ignoreIndex }.map { Int32($0) }
        let norm = normalizer ?? Float(max(rows.count, 1))
        let wantH = recordsGradients && nodes[h.id].needsGrad
        let wantW = recordsGradients && nodes[w.id].needsGrad
        let m = rows.count
        var dH = Tensor(uninitialized: wantH ? [m, dim] : [0])
        var dW: Tensor? = wantW ? Tensor(zeros: [vocab, dim]) : nil
        let chunk = max(1, min(chunkRows, m))
        var logits = Tensor(uninitialized: [chunk, vocab])
        var hs = Tensor(uninitialized: [chunk, dim])
        var chunkTargets = [Int32](repeating: 0, count: chunk)
        var losses = [Float](repeating: 0, count: chunk)
        var total = 0.0
        let wantGrad = wantH || wantW
        withRowSlabs(wv) { each in
            hv.withUnsafeFloats { hp in
                var start = 0
                while start < m {
                    let c = min(chunk, m - start)
                    hs.withUnsafeMutableFloats { hsp in
                        for i in 0..<c {
                            let r = Int(rows[start + i])
                            (hsp.baseAddress! + i * dim).update(from: hp.baseAddress! + r * dim, count: dim)
                            chunkTargets[i] = targets[r]
                        }
                    }
                    logits.withUnsafeMutableFloats { lp in
                        hs.withUnsafeFloats { hsp in
                            each { slab, wp in
                                BLAS.gemm(transA: false, transB: true, m: c, n: slab.count, k: dim, a: hsp.baseAddress!, lda: dim,
                                          b: wp, ldb: dim, c: lp.baseAddress! + slab.lowerBound, ldc: vocab)
                            }
                            // Loss, and the logits' gradient written over the logits.
                            Kernels.crossEntropy(logits: lp.baseAddress!, targets: chunkTargets, ignoreIndex: ignoreIndex,
                                                 rows: c, vocab: vocab, gradScale: 1 / norm, loss: &losses,
                                                 grad: wantGrad ? lp.baseAddress! : nil)
                            if wantH {
                                dH.withUnsafeMutableFloats { dhp in
                                    each { slab, wp in
                                        BLAS.gemm(transA: false, transB: false, m: c, n: dim, k: slab.count,
                                                  a: lp.baseAddress! + slab.lowerBound, lda: vocab, b: wp, ldb: dim,
                                                  beta: slab.lowerBound > 0 ? 1 : 0, c: dhp.baseAddress! + start * dim, ldc: dim)
                                    }
                                }
                            }
                            if wantW {
                                dW!.withUnsafeMutableFloats { dwp in
                                    BLAS.gemm(transA: true, transB: false, m: vocab, n: dim, k: c, a: lp.baseAddress!, lda: vocab,
                                              b: hsp.baseAddress!, ldb: dim, beta: 1, c: dwp.baseAddress!, ldc: dim)
                                }
                            }
                        }
                    }
                    for i in 0..<c { total += Double(losses[i]) }
                    start += c
                }
            }
        }
        return record(Tensor(scalar: Float(total / Double(norm))), inputs: [h, w],
                      op: .linearCrossEntropy(h: h, weight: w, rows: rows, dH: dH, dW: dW))
    }
}
