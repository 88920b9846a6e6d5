// `lorikeet estimate`: the memory a training run will take, by component, for full / LoRA /
// QLoRA side by side, before anything is trained. The model's shape comes from a model folder
// (config.json + safetensors headers) or a GGUF's metadata (inspected once as a ModelSource),
// or a named configuration; no weights are read. The numbers come from FineTuning's MemoryEstimator.
import ArgumentParser
import Foundation
import TensorCore
import ModelFormats
import Llama
import FineTuning

struct Estimate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate the peak memory of a training run, by component, for full / LoRA / QLoRA.",
        discussion: "Known --config names: \(NamedConfigurations.names.joined(separator: ", ")).")

    @Option(help: "A Hugging Face model folder, a .gguf file, ollama:NAME[:TAG] or hf:ORG/NAME[/FILE.gguf][@REVISION].") var model: String?
    @Option(name: .customLong("config"), help: "A named model shape instead of --model (shapes only; safetensors in --dtype assumed).")
    var configName: String?
    @Option(help: "With --config: the stored dtype of the assumed safetensors (bf16, f16 or f32).") var dtype = "bf16"
    @Option(help: "full, lora, qlora, qlora-keep (a GGUF's own blocks) or all.") var method = "all"
    @Option(name: .customLong("batch-size"), help: "Examples per micro-batch.") var batchSize = 4
    @Option(name: .customLong("max-seq-length"), help: "Tokens per example.") var maxSeqLength = 1024
    @Flag(name: .customLong("grad-checkpoint"), help: "Recompute each block in backward.") var gradCheckpoint = false
    @Option(name: .customLong("grad-accumulation"), help: "Micro-batches per optimizer step.") var gradAccumulation = 1
    @Option(help: "LoRA rank r.") var rank = 16
    @Option(help: "LoRA targets: comma list of q_proj,…,down_proj or all-linear.") var targets = "all-linear"
    @Option(help: "QLoRA weights per absmax block.") var blocksize = 64
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "QLoRA: quantize the absmax values too.")
    var doubleQuant = true
    @Option(help: "Optimizer state: adamw32, adamw8bit (8-bit blockwise moments, `train --optimizer adamw8bit`) or adamw-on-disk (`train --optimizer-state-on-disk`).")
    var optimizer = "adamw32"

    /// The --optimizer names.
    static let optimizers: [String: OptimizerChoice] = ["adamw32": .adamw, "adamw8bit": .adamw8bit, "adamw-on-disk": .adamwOnDisk]
    @Flag(name: .customLong("bf16-base"), help: "LoRA/QLoRA: frozen embeddings, head and norms held in bf16 (`train --bf16-base`).")
    var bf16Base = false
    @Option(name: .customLong("world-size"), help: "Ranks of an MPI run (mpirun -np N): the estimate is per rank.") var worldSize = 1
    @Flag(name: .customLong("shard-optimizer-state"), help: "With --world-size: each rank holds 1/N of the optimizer state (`train --shard-optimizer-state`).")
    var shardOptimizerState = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (model == nil) != (configName == nil) else { throw ValidationError("give exactly one of --model and --config") }
        guard configName != nil || dtype == "bf16" else { throw ValidationError("--dtype applies to --config; a --model's files say how it is stored") }
        guard batchSize >= 1, maxSeqLength >= 2, gradAccumulation >= 1 else {
            throw ValidationError("--batch-size and --grad-accumulation must be ≥ 1, --max-seq-length ≥ 2")
        }
        guard ["full", "lora", "qlora", "qlora-keep", "all"].contains(method) else {
            throw ValidationError("--method must be full, lora, qlora, qlora-keep or all")
        }
        guard Self.optimizers[optimizer] != nil else { throw ValidationError("--optimizer must be adamw32, adamw8bit or adamw-on-disk") }
        guard worldSize >= 1 else { throw ValidationError("--world-size must be ≥ 1") }
        guard !shardOptimizerState || optimizer == "adamw32" else { throw ValidationError("--shard-optimizer-state works with --optimizer adamw32") }
    }

    func run() throws {
        let (config, storage, source) = try shape()
        let lora = LoRAConfiguration(rank: rank, alpha: Float(2 * rank), targets: targets.split(separator: ",").map(String.init))
        try lora.validate()
        let isGGUF = storage.ownedBytesPerWeight == 4 && storage.mappedBytesPerWeight > 0
        if method == "qlora-keep" && !isGGUF { throw ValidationError("qlora-keep needs a GGUF file (--model x.gguf)") }
        let fourBit = FineTuningMethod.qlora(.fourBit(.nf4, blockSize: blocksize, doubleQuant: doubleQuant))
        let methods: [FineTuningMethod] = switch method {
        case "full": [.full]
        case "lora": [.lora]
        case "qlora": [fourBit]
        case "qlora-keep": [.qlora(.keep)]
        default: [.full, .lora, fourBit] + (isGGUF ? [.qlora(.keep)] : [])
        }
        let estimates = methods.map {
            MemoryEstimator.estimate(configuration: config, method: $0, lora: lora, batchSize: batchSize,
                                     sequenceLength: maxSeqLength, gradientCheckpointing: gradCheckpoint,
                                     baseStorage: storage, optimizer: Self.optimizers[optimizer]!,
                                     gradientAccumulation: gradAccumulation, bf16Unquantized: bf16Base, worldSize: worldSize,
                                     shardedOptimizerState: shardOptimizerState)
        }
        let available = MemoryStats.availableBytes
        if json {
            let obj: [String: Any] = [
                "source": source, "parameters": config.parameterCount, "batch_size": batchSize, "world_size": worldSize, "shard_optimizer_state": shardOptimizerState, "max_seq_length": maxSeqLength,
                "grad_checkpoint": gradCheckpoint, "available_bytes": available.map { $0 as Any } ?? NSNull(),
                "estimates": estimates.map { e -> [String: Any] in
                    var components: [String: Int] = [:]
                    for (c, b) in e.components { components[c.rawValue] = b }
                    return ["method": e.method.name, "peak_bytes": e.total, "required_bytes": e.required,
                            "peak_phase": e.peakPhase.name, "trainable_parameters": e.trainableParameters,
                            "components": components, "fits": available.map { (e.required <= $0) as Any } ?? NSNull()]
                },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("\(source): \(grouped(config.parameterCount)) parameters, batch \(batchSize) × \(maxSeqLength) tokens"
              + (gradCheckpoint ? ", gradient checkpointing" : "")
              + (worldSize > 1 ? ", per rank of \(worldSize)" + (shardOptimizerState ? " (optimizer state sharded)" : "") : ""))
        let width = MemoryComponent.allCases.map(\.rawValue.count).max()! + 2
        func row(_ label: String, _ cells: [String]) {
            print(label.padding(toLength: width, withPad: " ", startingAt: 0) + cells.map { leftPad($0, 12) }.joined())
        }
        row("", estimates.map { $0.method.name })
        for c in MemoryComponent.allCases where estimates.contains(where: { $0.bytes(c) > 0 }) {
            row(c.rawValue, estimates.map { MemoryStats.formatBytes($0.bytesAtPeak(c)) })
        }
        row("peak RSS", estimates.map { MemoryStats.formatBytes($0.total) })
        row("needed in RAM", estimates.map { MemoryStats.formatBytes($0.required) })
        row("peak during", estimates.map { $0.peakPhase.name == "forward/backward" ? "fwd/bwd" : $0.peakPhase.name })
        row("trainable", estimates.map { grouped($0.trainableParameters) })
        if let available {
            row("fits in \(MemoryStats.formatBytes(available))", estimates.map { $0.required <= available ? "yes" : "no" })
        }
        print("Components are those alive at the peak. Cold mapped pages were read once at load; the kernel drops them when memory is short.")
    }

    /// The model's shape, how its weights are stored, and a name for the source.
    func shape() throws -> (LlamaConfiguration, BaseStorage, String) {
        if let configName {
            guard let d = DType(rawValue: dtype), [.f32, .f16, .bf16].contains(d) else { throw ValidationError("--dtype must be bf16, f16 or f32") }
            let storage = BaseStorage(ownedBytesPerWeight: 0, mappedBytesPerWeight: Double(d.byteSize))
            return (try NamedConfigurations.configuration(named: configName), storage, "\(configName) (\(d.rawValue))")
        }
        let source = try openModel(model!)
        return (source.configuration, BaseStorage(source), source.path)
    }

    func grouped(_ n: Int) -> String { ParameterSummary.grouped(n) }

    func leftPad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
}
