// `lorikeet bench train`: training speed on random tokens — tokens/s, model FLOPs
// utilisation against this machine's measured sgemm rate, and peak resident memory. The steps
// run through FineTuning's TrainingRun (the same setup as `lorikeet train`), writing nothing.
// Under mpirun every rank trains its share and rank 0 prints the job's figures: tokens/s over
// all ranks, the all-reduce time per step, and MFU against the sum of the ranks' sgemm rates.
import ArgumentParser
import Foundation
import TensorCore
import Llama
import FineTuning

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s, MFU, per-step spread and peak memory of training steps on random tokens.")

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
    @Flag(name: .customLong("shard-optimizer-state"), help: "Under mpirun: each rank keeps its share of the AdamW moments (ZeRO-1).")
    var shardOptimizerState = false
    @Option(name: .customLong("compute-dtype"), help: "f32, or bf16 (products in bf16 with f32 sums, where the CPU has AVX512_BF16); MFU is then against the bf16 product's measured rate.")
    var computeDType = "f32"
    @Flag(help: "Also print where a timed step's time goes, by op kind (forward and backward) and the optimizer.") var profile = false
    @Flag(name: .customLong("machine-probe"), help: "After each step, time a fixed f32 product (the sgemm ceiling's, about 0.1 s; not counted in the step) and report its spread and the steps' spread relative to it: how much of the step spread is the machine's own speed drifting.")
    var machineProbe = false
    @OptionGroup var compute: ComputeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let group = try ProcessGroup.fromEnvironment()
        try asRank(of: group) { try bench(group: group) }
    }

    func bench(group: ProcessGroup) throws {
        compute.apply(for: group)
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1") }
        let settings = try TrainingSettings([
            "method": .string(method), "quant": .string(quant), "optimizer": .string(optimizer), "rank": .int(rank),
            "alpha": .double(Double(alpha)), "targets": .string(targets), "grad-checkpoint": .bool(gradCheckpoint),
            "bf16-base": .bool(bf16Base), "batch-size": .int(batch), "max-seq-length": .int(seq), "max-steps": .int(steps + 1),
            "learning-rate": .double(1e-5), "lr-schedule": .string("constant"), "max-grad-norm": .double(0),
            "shard-optimizer-state": .bool(shardOptimizerState), "compute-dtype": .string(computeDType),
        ], source: .commandLine)
        let input: TrainingRun.ModelInput
        let modelName: String
        if let initMode {
            guard initMode == "random" else { throw ValidationError("--init must be random") }
            guard !(method == "qlora" && quant == "keep") else { throw ValidationError("--quant keep needs a GGUF file, not --init random") }
            modelName = "\(model.model) (random)"
            input = .random(try NamedConfigurations.configuration(named: model.model), name: modelName)
        } else {
            let source = try model.open()
            modelName = source.url.lastPathComponent
            input = .source(source)
        }
        let c: LlamaConfiguration = switch input {
        case let .source(s): s.configuration
        case let .random(config, _): config
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let run = try TrainingRun(model: input, data: .batches(RandomTokenBatches(batchSize: batch, length: seq, vocabularySize: c.vocabularySize),
                                                               validation: []),
                                  directory: scratch, commandLine: settings, writesArtifacts: false)
        run.group = group
        var loadSeconds = 0.0, stepTimes: [Date] = [], communication: [Double] = []
        var cpuTimes: [Double] = [], machine: [MachineTimes] = []
        // With --machine-probe: the probe's seconds after each step, and when it ended (wall and CPU).
        var probeSeconds: [Double] = [], probeEnds: [Date] = [], probeCPUEnds: [Double] = []
        let probe = machineProbe ? ProductProbe() : nil
        var trainableParameters = 0
        let opProfile = profile ? OpProfile() : nil
        Tape.profile = opProfile
        defer { Tape.profile = nil }
        let result = try run.run { event in
            switch event {
            case let .modelLoaded(_, _, seconds): loadSeconds = seconds
            case let .training(.started(_, _, parameters)): trainableParameters = parameters.trainable
            case let .training(.step(r)):  // after each update; the first is the warm-up
                stepTimes.append(Date())
                cpuTimes.append(processCPUSeconds())
                if let m = MachineTimes.now() { machine.append(m) }
                if stepTimes.count == 1 { opProfile?.reset() }
                communication.append(r.communicationSeconds)
                if let probe {
                    probeSeconds.append(probe.seconds())
                    probeEnds.append(Date())
                    probeCPUEnds.append(processCPUSeconds())
                }
            default: break
            }
        }
        // Each timed step's duration (from the end of the previous step, or of the probe after
        // it), and their spread (coefficient of variation = σ / mean).
        let stepStarts = probe == nil ? stepTimes : probeEnds
        let stepSeconds = zip(stepTimes.dropFirst(), stepStarts).map { $0.timeIntervalSince($1) }
        let seconds = stepSeconds.reduce(0, +) / Double(steps)
        let cv = Self.coefficientOfVariation(stepSeconds)
        // Each step over the probe just before it: what spread remains once the machine's speed
        // (as one fixed product sees it) is divided out.
        let relativeCV = probe == nil ? nil : Self.coefficientOfVariation(zip(stepSeconds, probeSeconds).map { $0 / $1 })
        let probeCV = probe == nil ? nil : Self.coefficientOfVariation(Array(probeSeconds.dropLast()))
        let median = stepSeconds.sorted()[stepSeconds.count / 2]
        // The same for the process's CPU time (user + system) per step, which time the hypervisor
        // gives to other guests (steal) does not lengthen: a wall spread well above it is the
        // machine's, not ours. The pool's workers spin a little between tasks, and that counts,
        // so otherwise the two follow each other.
        let cpuSeconds = zip(cpuTimes.dropFirst(), probe == nil ? cpuTimes : probeCPUEnds).map { $0 - $1 }
        let cpuCV = Self.coefficientOfVariation(cpuSeconds)
        let steal = machine.count == stepTimes.count ? machine.last!.stealShare(since: machine.first!) : nil
        let tokensPerSecond = Double(seq * batch * group.size) / seconds
        let allReduce = communication.dropFirst().reduce(0, +) / Double(max(1, communication.count - 1))
        let m = run.configuration.fineTuningMethod
        // Matrix-product FLOPs per token: forward 2N, input gradients 2N, weight gradients 2N
        // (only for what trains), attention 6·T/2·(heads·hd) per layer, causal.
        let matmulParams = Double(c.parameterCount - c.vocabularySize * c.hiddenSize * (c.tieWordEmbeddings ? 0 : 1))
        let trainedMatmul = m == .full ? matmulParams : Double(trainableParameters)
        let attention = 6.0 * Double(seq) / 2 * Double(c.attentionHeads * c.headDim) * Double(c.layerCount)
        let flopsPerToken = 4 * matmulParams + 2 * trainedMatmul + attention
        let dtype = run.configuration.computeDType
        // Every rank at once: the machine's rates as this job runs them.
        var rates = [measuredProductRate(.f32), dtype == .f32 ? 0 : measuredProductRate(dtype)]
        try group.allReduceSum(&rates)
        let sgemm = rates[0], ceiling = dtype == .f32 ? sgemm : rates[1]
        let mfu = flopsPerToken * tokensPerSecond / (ceiling * 1e9)
        var peaks = [Double(MemoryStats.peakResidentBytes ?? 0)]
        try group.allReduceSum(&peaks)  // the job's peak RSS summed over ranks
        let peak = MemoryStats.peakResidentBytes ?? 0
        let baseBytes = result.network.parameters.values.reduce(0) { $0 + $1.value.byteCount }
        guard group.isLeader else { return }
        if json {
            let obj: [String: Any] = ["method": method, "seq": seq, "batch": batch, "threads": Parallel.threadCount,
                                      "tokens_per_second": tokensPerSecond, "seconds_per_step": seconds,
                                      "flops_per_token": flopsPerToken, "sgemm_gflops": sgemm, "mfu": mfu,
                                      "peak_rss_bytes": peak, "grad_checkpoint": gradCheckpoint,
                                      "base_weight_bytes": baseBytes, "load_seconds": loadSeconds,
                                      "quant": m.kind == .qlora ? quant : "none", "model": modelName,
                                      "step_seconds": stepSeconds, "step_seconds_median": median, "step_seconds_cv": cv,
                                      "world_size": group.size, "all_reduce_seconds_per_step": allReduce,
                                      "peak_rss_bytes_all_ranks": Int(peaks[0]), "compute_dtype": dtype.rawValue,
                                      "ceiling_gflops": ceiling, "step_cpu_seconds": cpuSeconds, "step_cpu_seconds_cv": cpuCV,
                                      "steal_share": steal ?? NSNull(), "probe_seconds": probe == nil ? NSNull() : probeSeconds,
                                      "probe_seconds_cv": probeCV ?? NSNull(), "step_over_probe_cv": relativeCV ?? NSNull()]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@ %@%@: seq %d × batch %d%@, %d threads: %.1f tokens/s (%.2f s/step), %.2f GFLOP/token, MFU %.1f%% of %.1f GFLOP/s %@, peak RSS %@, base weights %@",
                         m.kind == .qlora ? "qlora (\(quant))" : method, modelName, dtype == .f32 ? "" : " in \(dtype.rawValue)", seq, batch,
                         group.isDistributed ? " × \(group.size) ranks" : "", Parallel.threadCount, tokensPerSecond, seconds, flopsPerToken / 1e9,
                         100 * mfu, ceiling, dtype == .f32 ? "sgemm" : "\(dtype.rawValue) gemm (sgemm \(String(format: "%.1f", sgemm)))",
                         MemoryStats.formatBytes(peak), MemoryStats.formatBytes(baseBytes)))
            if group.isDistributed {
                print(String(format: "  %d ranks × %d threads (%@): all-reduce (and waiting for the slower rank) %.1f ms per step, %.1f%% of the step; peak RSS of all ranks %@",
                             group.size, Parallel.threadCount, group.implementation ?? "MPI", allReduce * 1000, 100 * allReduce / seconds,
                             MemoryStats.formatBytes(Int(peaks[0]))))
            }
            if stepSeconds.count > 1 {
                print(String(format: "  %d timed steps: median %.3f s, min %.3f s, max %.3f s, spread (σ / mean) %.1f%%; CPU time per step spread %.1f%%",
                             stepSeconds.count, median, stepSeconds.min()!, stepSeconds.max()!, 100 * cv, 100 * cpuCV)
                      + (steal.map { String(format: "; the hypervisor took %.1f%% of the machine's time (steal)", 100 * $0) } ?? ""))
            }
            if let probeCV, let relativeCV {
                print(String(format: "  machine probe (one fixed %.2f GFLOP sgemm after each step): spread %.1f%%; steps relative to the probe before them: spread %.1f%%",
                             ProductProbe.flops / 1e9, 100 * probeCV, 100 * relativeCV))
            }
            if let opProfile { printProfile(opProfile, stepSeconds: seconds) }
        }
    }

    /// σ / mean of `values` (0 for fewer than two).
    static func coefficientOfVariation(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        return sd / mean
    }

    /// User + system CPU seconds of this process so far.
    func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// The profile per timed step: each op kind's forward and backward time and share of the
    /// step, the other work measured by name, and what no measurement covers.
    func printProfile(_ p: OpProfile, stepSeconds: Double) {
        let perStep = 1 / Double(steps)
        let kinds = Set(p.forward.keys).union(p.backward.keys)
        let rows = kinds.map { k in (k, (p.forward[k] ?? 0) * perStep, (p.backward[k] ?? 0) * perStep) }
            .sorted { $0.1 + $0.2 > $1.1 + $1.2 }
        print("  where a step goes (wall time per step):")
        print("    " + "op".padding(toLength: 24, withPad: " ", startingAt: 0) + "  forward  backward     total   share")
        func line(_ name: String, _ f: Double?, _ b: Double?, total: Double? = nil) {
            let total = total ?? (f ?? 0) + (b ?? 0)
            print("    " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "  %@  %@  %7.3f s  %5.1f%%", f.map { String(format: "%7.3f", $0) } ?? "      -",
                         b.map { String(format: "%7.3f", $0) } ?? "      -", total, 100 * total / stepSeconds))
        }
        for (k, f, b) in rows { line(k, f, b) }
        for (k, v) in p.other.sorted(by: { $0.value > $1.value }) { line(k, nil, nil, total: v * perStep) }
        let covered = rows.reduce(0) { $0 + $1.1 + $1.2 } + p.other.values.reduce(0, +) * perStep
        line("(not covered)", nil, nil, total: max(0, stepSeconds - covered))
    }

    /// GFLOP/s of a SmolLM2-sized product (1024×576 · 576×1536), best of 3: in f32, cblas_sgemm
    /// with OpenBLAS threading it itself (its own ceiling, not our split of it); in bf16, our
    /// kernel over the pool.
    func measuredProductRate(_ dtype: ComputeDType) -> Double {
        let product = ProductProbe()
        let seconds = BLAS.withComputeDType(dtype) {
            BLAS.withOpenBLASThreading {
                (0..<3).map { _ in KernelBenchmark.measure(0.2) { product.multiply() } }.min()!
            }
        }
        return ProductProbe.productFlops / seconds / 1e9
    }
}

/// The ceiling's SmolLM2-sized product (1024×576 · 576×1536) and, for --machine-probe, a fixed
/// amount of it (repeated to about 0.1 s at 200 GFLOP/s), OpenBLAS threading itself: how fast
/// the machine runs right now.
struct ProductProbe {
    static let productFlops = 2.0 * 1024 * 576 * 1536
    static let repeats = 12
    static let flops = Double(repeats) * productFlops
    let a = Tensor(repeating: 0.01, shape: [1024, 576]), b = Tensor(repeating: 0.02, shape: [1536, 576])

    /// One product a · bᵀ.
    func multiply() { _ = try? Tensor.matmul(a, b, transposeB: true) }

    /// Seconds the fixed work takes now.
    func seconds() -> Double {
        BLAS.withOpenBLASThreading {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<Self.repeats { multiply() }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }
}

/// The whole machine's CPU time so far, from /proc/stat (Linux; nil elsewhere): all of it and
/// the part the hypervisor gave to other guests (steal), in clock ticks.
struct MachineTimes {
    var total: Double
    var steal: Double

    static func now() -> MachineTimes? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        // user nice system idle iowait irq softirq steal guest guest_nice
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return nil }
        return MachineTimes(total: fields.prefix(8).reduce(0, +), steal: fields[7])
    }

    /// The share of the machine's time since `start` that was stolen.
    func stealShare(since start: MachineTimes) -> Double? {
        total > start.total ? (steal - start.steal) / (total - start.total) : nil
    }
}
