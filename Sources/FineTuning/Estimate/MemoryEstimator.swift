// The memory a training run will take, from the model's shape alone, following what the code
// keeps: LlamaModel+Forward.swift's decoder block (every value on the tape stays until
// backward except the ones it discards), the chunked linear-cross-entropy, the per-block
// gradient buffers of backward, the widening scratch, BlockCache and the process itself.
// Not modelled: glibc keeping freed heap memory (measured ~6 % extra for full fine-tuning of
// SmolLM2). Measured peaks it was calibrated against are recorded in EstimateTests.
import TensorCore
import ModelFormats
import Llama

/// Estimates peak resident memory of training runs.
public enum MemoryEstimator {
    /// BlockCache keeps up to this many bytes of freed blocks (BlockCache.limit(fullFineTuning:)).
    public static func blockCacheLimit(_ method: FineTuningMethod) -> Int { BlockCache.limit(fullFineTuning: method == .full) }
    /// Blocks smaller than this are not cached (BlockCache.minimumCached).
    static let cacheMinimumBlock = 256 << 10
    /// A process that loaded nothing (Swift runtime, Foundation, OpenBLAS and its threads),
    /// measured: `lorikeet --version` 23 MB, a model loaded for generation ~11 MB more than its weights.
    public static let processBaseline = 34 << 20
    /// Resident bytes of a loaded tokenizer per vocabulary entry (measured on SmolLM2: 8 MB for 49,152).
    public static let tokenizerBytesPerToken = 165
    /// Rows of logits formed at once by the fused head + loss (Tape.linearCrossEntropy).
    static let lossChunkRows = 256
    /// Rows of one attention score block per work item, and work items assumed in flight.
    static let attentionBlockRows = 128, attentionWorkers = 8

    /// Estimates the peak resident memory of training `configuration` with `method`.
    ///
    /// - Parameters:
    ///   - lora: targets and ranks of the adapter (ignored for `.full`; its dropout adds a scratch).
    ///   - batchSize, sequenceLength: the shape of one micro-batch (B rows of T tokens).
    ///   - baseStorage: how the loaded base weights are held (see `BaseStorage`).
    ///   - optimizer: the optimizer's state per trainable weight.
    ///   - gradientAccumulation: micro-batches per update; above 1 every gradient is alive
    ///     during the later micro-batches' forward and backward.
    ///   - bf16Unquantized: LoRA/QLoRA with `bf16-base`: embeddings, head and norms that load
    ///     wider than bf16 are held as owned bf16 copies (their file pages, if any, stay counted).
    ///   - worldSize: ranks of a data-parallel (MPI) run; above 1 each rank also holds the
    ///     all-reduce staging buffer (up to `ProcessGroup.bucketFloats` floats).
    ///   - shardedOptimizerState: ZeRO-1 — each rank holds 1/worldSize of the optimizer state
    ///     (between checkpoints; rank 0 gathers it all while writing one).
    public static func estimate(configuration c: LlamaConfiguration, method: FineTuningMethod,
                                lora: LoRAConfiguration = LoRAConfiguration(rank: 16, alpha: 32, targets: ["all-linear"]),
                                batchSize: Int, sequenceLength: Int, gradientCheckpointing: Bool = false,
                                baseStorage: BaseStorage = .bf16, optimizer: OptimizerChoice = .adamw,
                                gradientAccumulation: Int = 1,
                                bf16Unquantized: Bool = false, worldSize: Int = 1,
                                shardedOptimizerState: Bool = false) -> MemoryEstimate {
        let f = 4  // bytes per f32
        let d = c.hiddenSize, q = c.attentionHeads * c.headDim, kv = c.kvHeads * c.headDim, ff = c.intermediateSize
        let v = c.vocabularySize, layers = c.layerCount
        let n = max(1, batchSize) * max(1, sequenceLength)  // tokens per micro-batch
        let params = c.parameterCount
        let embeddingParams = v * d
        let adapted = method != .full

        // The decoder's linear modules: (module, in, out).
        let modules = c.linearModules.map { m in (m, m.shape(in: c).inFeatures, m.shape(in: c).outFeatures) }
        // QLoRA re-encodes every decoder linear (ModelLoader's requantize), targeted by LoRA or not.
        let linearParams = layers * modules.reduce(0) { $0 + $1.1 * $1.2 }
        let largestLinear = modules.map { $0.1 * $0.2 }.max()!
        var adapterParams = 0, rankSum = 0, cacheableAdapterBytes = 0
        if adapted {
            for layer in 0..<layers {
                for (module, inF, outF) in modules {
                    let path = module.path(layer: layer)
                    guard lora.targets(path: path) else { continue }
                    let r = lora.rank(path: path)
                    adapterParams += r * (inF + outF)
                    rankSum += r
                    // A [r, in] and B [out, r] gradients: BlockCache keeps blocks ≥ 256 KiB.
                    for size in [r * inF * f, outF * r * f] where size >= cacheMinimumBlock { cacheableAdapterBytes += size }
                }
            }
        }
        let trainable = adapted ? adapterParams : params

        // Base weights and the mapped file: `hot` pages are read by every step, `cold` ones were
        // touched once at load (a GGUF's quantized blocks after dequantizing, re-encoded linears).
        let fileBytes = Double(params) * baseStorage.mappedBytesPerWeight
        let viewedInPlace = baseStorage.ownedBytesPerWeight < 4  // else the loader made f32 copies
        var base: Double, hot: Double, cold: Double
        var loadCold: Double?  // cold pages while loading, when not all of the file's
        // Owned bytes per weight of the tensors that are not decoder linears.
        // With bf16-base, anything held wider than bf16 (owned f32, or f32 pages viewed in place) becomes an owned bf16 copy.
        let widerThanBF16 = baseStorage.ownedBytesPerWeight > 2 || (baseStorage.ownedBytesPerWeight == 0 && baseStorage.mappedBytesPerWeight > 2)
        let restBytes = bf16Unquantized && adapted && widerThanBF16 ? 2 : baseStorage.ownedBytesPerWeight
        switch method {
        case .full:
            // Every weight is converted to owned f32; nothing views the mapping afterwards.
            (base, hot, cold) = (Double(params) * 4, 0, 0)
        case .lora:
            base = Double(linearParams) * baseStorage.ownedBytesPerWeight + Double(params - linearParams) * restBytes
            (hot, cold) = viewedInPlace ? (fileBytes, 0) : (0, fileBytes)
        case let .qlora(.fourBit(_, blockSize, doubleQuant)):
            // Decoder linears re-encoded in 4 bits; embeddings, head and norms as loaded (or bf16).
            let bits = FineTuningMethod.fourBitBitsPerWeight(blockSize: blockSize, doubleQuant: doubleQuant)
            base = Double(linearParams) * bits / 8 + Double(params - linearParams) * restBytes
            // The loader releases each re-encoded linear's pages (ModelLoader.requantize), so they
            // are not even cold: only the rest of the file stays mapped.
            let linearFileBytes = Double(linearParams) * baseStorage.mappedBytesPerWeight
            (hot, cold) = viewedInPlace ? (fileBytes - linearFileBytes, 0) : (0, fileBytes - linearFileBytes)
            loadCold = cold + Double(largestLinear) * baseStorage.mappedBytesPerWeight  // one linear at a time
        case .qlora(.keep):
            // Linears read from the file's blocks every step; the rest was dequantized at load.
            base = Double(params - linearParams) * restBytes
            hot = Double(linearParams) * baseStorage.mappedBytesPerWeight
            cold = fileBytes - hot
        }

        // Widening scratch: one buffer per tape, as large as the largest narrow tensor widened
        // (the head, a linear) but never above a slab (Tape.widenSlabElements), or as x for
        // LoRA dropout. Embedding lookups widen only the rows they read.
        var scratch = 0
        if method != .full && baseStorage.isNarrow { scratch = max(embeddingParams, ff * d, q * d) }
        switch method {
        case .qlora: scratch = max(scratch, largestLinear)
        case .full, .lora: break
        }
        if bf16Unquantized && adapted { scratch = max(scratch, embeddingParams) }  // the bf16 head
        scratch = min(scratch, Tape.defaultWidenSlabElements) * f
        if adapted && lora.dropout > 0 { scratch = max(scratch, n * max(d, ff, q) * f) }

        // Activations: per token and layer, the block's input x, h = norm(x), v, q and k after
        // rotary, the attention output, x1, h2 = norm(x1), gate, up and swiglu(gate, up) stay on
        // the tape (q/k before rotary, o_proj's and down_proj's outputs are discarded), plus two
        // rstd, one logsumexp per query head, and each adapter's down = x·Aᵀ ([N, r]).
        let perLayer = 4 * d + 2 * q + 2 * kv + 3 * ff + 2 + c.attentionHeads + (adapted ? rankSum / max(layers, 1) : 0)
        let activationFloats: Int
        if gradientCheckpointing {
            // Each block keeps only its input (outputs of the embedding and of every block, plus the
            // final norm); backward recomputes one block at a time with everything above.
            activationFloats = n * ((layers + 2) * d + 1) + n * (perLayer - d)
        } else {
            activationFloats = n * (layers * perLayer + 2 * d + 1)
        }
        let activations = activationFloats * f

        // The fused head + loss: a chunk of logits (its gradient overwrites it) and of hidden rows,
        // dH for the counted rows, and dW [V, D] when the head trains (full fine-tuning).
        let counted = max(1, batchSize * max(sequenceLength - 1, 1))
        let chunk = min(lossChunkRows, counted)
        let headTrains = method == .full
        let loss = chunk * v * f + chunk * d * f + counted * d * f + (headTrains ? embeddingParams * f : 0)
        let headGradient = headTrains ? embeddingParams * f : 0  // the head's grad, formed first in backward

        // Backward of one block: dY, the swiglu input gradients and dUp/dGate ([N, F] × 3), dh2 and dx;
        // attention's score scratch per work item (probabilities and their gradient).
        let transient = n * (3 * ff + 3 * d) * f
            + attentionWorkers * 2 * attentionBlockRows * max(1, sequenceLength) * f
            + (gradientCheckpointing ? n * d * f : 0)

        // BlockCache keeps freed blocks that the next allocations cannot reuse: after an update,
        // the gradients freed by zeroGrad; during the update, the activations freed by backward.
        let freedWeightShaped = (adapted ? cacheableAdapterBytes : trainable * f)
        let cacheForward = min(blockCacheLimit(method), freedWeightShaped)
        let cacheUpdate = min(blockCacheLimit(method), activations)

        let process = processBaseline + tokenizerBytesPerToken * v
        let adapterBytes = adapterParams * f
        let gradients = trainable * f + (worldSize > 1 ? min(trainable, ProcessGroup.bucketFloats) * f : 0)
        let shards = shardedOptimizerState ? max(1, worldSize) : 1
        let optimizerState = Int((Double(trainable) * optimizer.residentBytesPerWeight / Double(shards)).rounded(.up))

        var phases: [MemoryEstimate.Phase] = []
        // Loading: a GGUF is dequantized whole (every tensor in f32) before any re-encoding, so
        // QLoRA from a GGUF briefly holds the whole model in f32; full fine-tuning widens a mapped
        // base into owned f32 copies. File pages read only while loading are cold.
        var loadBase = Double(params) * baseStorage.ownedBytesPerWeight
        if method == .full && baseStorage.ownedBytesPerWeight < 4 { loadBase = Double(params) * 4 }
        if method == .qlora(.keep) { loadBase = base }
        phases.append(MemoryEstimate.Phase(name: "load", parts: [
            .baseWeights: Int(loadBase), .mappedFile: Int(hot), .coldMappedFile: Int(loadCold ?? fileBytes - hot), .process: process,
        ]))
        // End of forward / start of backward: every activation, the loss buffers, the head's gradient,
        // one block's backward buffers, and the optimizer state from the previous step.
        phases.append(MemoryEstimate.Phase(name: "forward/backward", parts: [
            .baseWeights: Int(base), .mappedFile: Int(hot), .coldMappedFile: Int(cold), .adapters: adapterBytes,
            .gradients: adapted || gradientAccumulation > 1 ? gradients : headGradient, .optimizerState: optimizerState,
            .activations: activations, .lossBuffers: loss, .backwardTransient: transient, .widenScratch: scratch,
            .allocatorCache: cacheForward, .process: process,
        ]))
        // The update: all gradients and the state.
        phases.append(MemoryEstimate.Phase(name: "optimizer step", parts: [
            .baseWeights: Int(base), .mappedFile: Int(hot), .coldMappedFile: Int(cold),
            .adapters: adapterBytes, .gradients: gradients, .optimizerState: optimizerState,
            .widenScratch: 0, .allocatorCache: cacheUpdate, .process: process,
        ]))
        return MemoryEstimate(method: method, parameterCount: params, trainableParameters: trainable, phases: phases)
    }
}
