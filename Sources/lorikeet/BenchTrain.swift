// `lorikeet bench train`: training speed on random tokens — tokens/s, model FLOPs
// utilisation against this machine's measured sgemm rate, and peak resident memory.
import ArgumentParser
import Foundation
import TensorCore
import Llama
import FineTuning

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s, MFU and peak memory of training steps on random tokens.")

    @OptionGroup var model: ModelOption
    @Option(name: .customLong("init"), help: "random: build --model as a named configuration (e.g. llama-2-7b) with seeded random weights.")
    var initMode: String?
    @Option(help: "lora, qlora or full.") var method: String = "lora"
    @Option(help: "QLoRA base encoding: nf4, fp4 or keep (a GGUF's own quantized blocks).") var quant: String = "nf4"
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Timed steps (after one warm-up step).") var steps = 3
    @Option(help: "adamw or adamw8bit.") var optimizer = "adamw"
    @Option(help: "LoRA rank.") var rank = 16
    @Option(help: "LoRA alpha.") var alpha: Float = 32
    @Option(help: "LoRA targets (comma list or all-linear).") var targets = "all-linear"
    @Flag(name: .customLong("grad-checkpoint"), help: "Recompute blocks in backward.") var gradCheckpoint = false
    @Flag(name: .customLong("bf16-base"), help: "LoRA/QLoRA: hold the frozen embeddings, head and norms in bf16.") var bf16Base = false
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        compute.apply()
        guard let m = TrainingMethod(rawValue: method) else { throw ValidationError("--method must be lora, qlora or full") }
        var settings = TrainingConfiguration()
        try settings.set("method", method, source: "--method")
        try settings.set("quant", quant, source: "--quant")
        try settings.set("bf16-base", bf16Base, source: "--bf16-base")
        try settings.validate()
        let loadStart = Date()
        let lm: LlamaModel
        let modelName: String
        if let initMode {
            guard initMode == "random" else { throw ValidationError("--init must be random") }
            guard !(m == .qlora && quant == "keep") else { throw ValidationError("--quant keep needs a GGUF file, not --init random") }
            let config = try NamedConfigurations.configuration(named: model.model)
            let options = settings.loadOptions()
            lm = try LlamaModel.random(config, seed: 0, linearQuantizer: options.linearQuantizer, unquantizedDType: options.unquantizedDType)
            modelName = "\(model.model) (random)"
        } else {
            let loaded = try ModelLoader.load(model.model, options: settings.loadOptions())
            lm = loaded.model
            modelName = URL(fileURLWithPath: loaded.path).lastPathComponent
        }
        BlockCache.shared.purge()
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let c = lm.configuration
        var trainable: [Parameter] = []
        var loraParams = 0
        if m.usesAdapter {
            let config = LoRAConfiguration(rank: rank, alpha: alpha, targets: targets.split(separator: ",").map(String.init))
            let adapter = try LoRAAdapter.create(for: lm, configuration: config, seed: 0)
            try adapter.attach(to: lm)
            for p in lm.parameters.values { p.requiresGrad = false }
            trainable = adapter.parameters
            loraParams = adapter.parameterCount
        } else {
            for p in lm.parameters.values {
                if p.value.dtype != .f32 || p.value.isMapped { p.value = p.value.widened().copied() }
                p.requiresGrad = true
                trainable.append(p)
            }
        }
        guard let kind = OptimizerKind(rawValue: optimizer) else { throw ValidationError("--optimizer must be adamw or adamw8bit") }
        let optimizer: any Optimizer = kind == .adamw8bit ? AdamW8bit(config: AdamWConfig(weightDecay: 0)) : AdamW(config: AdamWConfig(weightDecay: 0))
        var g = SeededGenerator(seed: 1)
        let ids = (0..<(seq * batch)).map { _ in Int32(g.next() % UInt64(c.vocabularySize)) }
        let targetsIDs = (0..<(seq * batch)).map { i in (i + 1) % seq == 0 ? Int32(-100) : ids[i + 1] }
        func step() throws {
            let tape = Tape()
            let loss = try lm.loss(tape, ids: ids, targets: targetsIDs, batch: batch, length: seq,
                                   options: ForwardOptions(gradientCheckpointing: gradCheckpoint))
            try tape.backward(loss)
            optimizer.step(trainable, learningRate: 1e-5)
            for p in trainable { p.zeroGrad() }
        }
        try step()
        let t0 = Date()
        for _ in 0..<steps { try step() }
        let seconds = Date().timeIntervalSince(t0) / Double(steps)
        let tokensPerSecond = Double(seq * batch) / seconds
        // Matrix-product FLOPs per token: forward 2N, input gradients 2N, weight gradients 2N
        // (only for what trains), attention 6·T/2·(heads·hd) per layer, causal.
        let matmulParams = Double(c.parameterCount - c.vocabularySize * c.hiddenSize * (c.tieWordEmbeddings ? 0 : 1))
        let trainedMatmul = m == .full ? matmulParams : Double(loraParams)
        let attention = 6.0 * Double(seq) / 2 * Double(c.attentionHeads * c.headDim) * Double(c.layerCount)
        let flopsPerToken = 4 * matmulParams + 2 * trainedMatmul + attention
        let sgemm = measuredSgemmRate()
        let mfu = flopsPerToken * tokensPerSecond / (sgemm * 1e9)
        let peak = MemoryStats.peakResidentBytes ?? 0
        let baseBytes = lm.parameters.values.reduce(0) { $0 + $1.value.byteCount }
        if json {
            let obj: [String: Any] = ["method": method, "seq": seq, "batch": batch, "threads": Parallel.threadCount,
                                      "tokens_per_second": tokensPerSecond, "seconds_per_step": seconds,
                                      "flops_per_token": flopsPerToken, "sgemm_gflops": sgemm, "mfu": mfu,
                                      "peak_rss_bytes": peak, "grad_checkpoint": gradCheckpoint,
                                      "base_weight_bytes": baseBytes, "load_seconds": loadSeconds,
                                      "quant": m == .qlora ? quant : "none", "model": modelName]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@ %@: seq %d × batch %d, %d threads: %.1f tokens/s (%.2f s/step), %.2f GFLOP/token, MFU %.1f%% of %.1f GFLOP/s sgemm, peak RSS %@, base weights %@",
                         m == .qlora ? "qlora (\(quant))" : method, modelName, seq, batch, Parallel.threadCount,
                         tokensPerSecond, seconds, flopsPerToken / 1e9, 100 * mfu, sgemm, MemoryStats.formatBytes(peak), MemoryStats.formatBytes(baseBytes)))
        }
    }

    /// GFLOP/s of cblas_sgemm on a SmolLM2-sized product (1024×576 · 576×1536), best of 3.
    func measuredSgemmRate() -> Double {
        let a = Tensor(repeating: 0.01, shape: [1024, 576]), b = Tensor(repeating: 0.02, shape: [1536, 576])
        let seconds = (0..<3).map { _ in KernelBenchmark.measure(0.2) { _ = try? Tensor.matmul(a, b, transposeB: true) } }.min()!
        return 2 * 1024 * 576 * 1536 / seconds / 1e9
    }
}
