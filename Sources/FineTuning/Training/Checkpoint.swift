// Checkpoints: everything needed to continue a run so that every later loss is
// bit-identical to an uninterrupted run — trainable weights (a PEFT adapter folder for
// LoRA, safetensors for full fine-tuning), AdamW moments, step, data cursor, seed and the
// resolved configuration. Each checkpoint folder is written atomically; the last K are kept.
import Foundation
import TensorCore
import ModelFormats

/// The scalar state of a run at a step boundary.
public struct TrainerState: Codable, Equatable, Sendable {
    /// Optimizer updates completed.
    public var step: Int
    /// Epoch of the next batch.
    public var epoch: Int
    /// Non-padding tokens processed.
    public var tokensSeen: Int
    /// The batch stream's position (opaque to the trainer).
    public var dataCursor: Data
    /// Best validation loss so far.
    public var bestValidLoss: Double?
    /// Training seconds so far (excluding time between a stop and a resume).
    public var elapsedSeconds: Double
    /// Total steps the run was planned for.
    public var totalSteps: Int
    /// The run's seed.
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case step, epoch, tokensSeen = "tokens_seen", dataCursor = "data_cursor", bestValidLoss = "best_valid_loss"
        case elapsedSeconds = "elapsed_seconds", totalSteps = "total_steps", seed
    }
}

/// Reading and writing checkpoint folders under `RUN/checkpoints/step-NNNNNNN`.
public enum Checkpoint {
    static let stateFile = "trainer_state.json"
    static let optimizerFile = "optimizer.safetensors"
    static let weightsFile = "weights.safetensors"
    static let adapterFolder = "adapter"
    static let configFile = "config.json"

    /// The folder of the checkpoint taken after `step` updates.
    public static func folder(run: URL, step: Int) -> URL {
        run.appendingPathComponent("checkpoints").appendingPathComponent(String(format: "step-%07d", step))
    }

    /// Checkpoint folders of a run, oldest first.
    public static func all(run: URL) -> [URL] {
        let dir = run.appendingPathComponent("checkpoints")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasPrefix("step-") && !$0.contains(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// The newest complete checkpoint of a run.
    public static func latest(run: URL) -> URL? {
        all(run: run).last { FileManager.default.fileExists(atPath: $0.appendingPathComponent(stateFile).path) }
    }

    /// Writes a checkpoint atomically, then removes all but the newest `keep`.
    static func save(run: URL, state: TrainerState, trainable: [Parameter], optimizer: any Optimizer, adapter: LoRAAdapter?,
                     baseModel: String, settings: Data, keep: Int) throws -> URL {
        let url = folder(run: run, step: state.step)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData = try enc.encode(state)
        try AtomicFile.writeDirectory(at: url) { dir in
            try stateData.write(to: dir.appendingPathComponent(stateFile))
            try settings.write(to: dir.appendingPathComponent(configFile))
            if let adapter {
                try adapter.save(to: dir.appendingPathComponent(adapterFolder), baseModel: baseModel)
            } else {
                try SafetensorsWriter.write(trainable.map { ($0.name, $0.value) }, metadata: ["format": "pt"],
                                            to: dir.appendingPathComponent(weightsFile))
            }
            try SafetensorsWriter.write(optimizer.stateTensors(for: trainable), metadata: ["adamw_step": String(optimizer.stepCount)],
                                        to: dir.appendingPathComponent(optimizerFile))
        }
        let existing = all(run: run)
        if existing.count > keep {
            for old in existing.prefix(existing.count - keep) { try? FileManager.default.removeItem(at: old) }
        }
        return url
    }

    /// Restores weights and optimizer state from `url` into `trainable` (matched by name) and
    /// returns the scalar state. Errors name the file and the tensor.
    static func restore(from url: URL, trainable: [Parameter], optimizer: any Optimizer, isAdapter: Bool) throws -> TrainerState {
        let statePath = url.appendingPathComponent(stateFile).path
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw TrainingError.invalidCheckpoint(path: statePath, reason: "missing (not a complete checkpoint)")
        }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw TrainingError.invalidCheckpoint(path: statePath, reason: "unreadable: \(error)")
        }
        let weights: SafetensorsFile
        let prefixLess: (String) -> String
        if isAdapter {
            weights = try SafetensorsFile(path: url.appendingPathComponent(adapterFolder).appendingPathComponent("adapter_model.safetensors").path)
            prefixLess = { $0 }
        } else {
            weights = try SafetensorsFile(path: url.appendingPathComponent(weightsFile).path)
            prefixLess = { $0 }
        }
        for p in trainable {
            let name = prefixLess(p.name)
            guard weights.info(name) != nil else {
                throw TrainingError.invalidCheckpoint(path: weights.path, reason: "tensor \(name) is missing")
            }
            let t = try weights.tensor(name).widened().copied()
            guard t.shape == p.value.shape else {
                throw TrainingError.invalidCheckpoint(path: weights.path, reason: "tensor \(name) has shape \(t.shape), expected \(p.value.shape)")
            }
            p.value = t
        }
        let opt = try SafetensorsFile(path: url.appendingPathComponent(optimizerFile).path)
        guard let stepString = opt.metadata["adamw_step"], let steps = Int(stepString) else {
            throw TrainingError.invalidCheckpoint(path: opt.path, reason: "metadata adamw_step is missing")
        }
        var tensors: [String: Tensor] = [:]
        for name in opt.names { tensors[name] = try opt.tensor(name).copied() }
        do { try optimizer.restore(stepCount: steps, tensors: tensors, for: trainable) } catch {
            throw TrainingError.invalidCheckpoint(path: opt.path, reason: "\(error)")
        }
        return state
    }
}
