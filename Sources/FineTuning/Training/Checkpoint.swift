// Checkpoints: everything needed to continue a run so that every later loss is
// bit-identical to an uninterrupted run — trainable weights (a PEFT adapter folder for
// LoRA, safetensors for full fine-tuning), AdamW moments, step, data cursor, seed and the
// resolved configuration. Each checkpoint folder is written atomically; the last K are kept.
// A manifest (manifest.json: every file's size and SHA-256) is written last, so a flipped byte,
// a truncated or a missing file is found, by name, before anything is restored from it.
import Foundation
import TensorCore
import ModelFormats
import ModelStores

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
    static let manifestFile = "manifest.json"

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
        let previous = latest(run: run)
        do {
            try write(url, stateData: stateData, trainable: trainable, optimizer: optimizer, adapter: adapter, baseModel: baseModel, settings: settings)
        } catch {
            // The folder is written aside and renamed only when complete: nothing partial is left under its name.
            throw TrainingError.invalidCheckpoint(path: url.path, reason: "could not be written (\(error)); "
                + (previous.map { "the previous checkpoint \($0.lastPathComponent) is intact and --resume continues from it" }
                   ?? "no earlier checkpoint exists"))
        }
        let existing = all(run: run)
        if existing.count > keep {
            for old in existing.prefix(existing.count - keep) { try? FileManager.default.removeItem(at: old) }
        }
        return url
    }

    /// Writes one checkpoint folder atomically (see `save`).
    private static func write(_ url: URL, stateData: Data, trainable: [Parameter], optimizer: any Optimizer, adapter: LoRAAdapter?,
                              baseModel: String, settings: Data) throws {
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
            try writeManifest(in: dir)
        }
    }

    /// Every file below `dir` (relative path, sorted) with its size and SHA-256, as manifest.json.
    static func writeManifest(in dir: URL) throws {
        var entries: [String: [String: Any]] = [:]
        for path in try files(below: dir) where path != manifestFile {
            let url = dir.appendingPathComponent(path)
            let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
            entries[path] = ["bytes": size, "sha256": try FileDigest.sha256(of: url)]
        }
        let data = try JSONSerialization.data(withJSONObject: ["files": entries], options: [.prettyPrinted, .sortedKeys])
        try data.write(to: dir.appendingPathComponent(manifestFile))
    }

    /// Regular files below `dir`, as paths relative to it, sorted.
    static func files(below dir: URL) throws -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        var out: [String] = []
        while let path = e.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.append(path)
            }
        }
        return out.sorted()
    }

    /// Checks the checkpoint at `url` against its manifest: every listed file present with its
    /// size and SHA-256. Throws `.invalidCheckpoint` naming the first bad file. A checkpoint
    /// written before manifests existed (none there) is accepted as it is.
    public static func verify(_ url: URL) throws {
        let manifestURL = url.appendingPathComponent(manifestFile)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFile).path) else {
                throw TrainingError.invalidCheckpoint(path: url.appendingPathComponent(stateFile).path, reason: "missing (not a complete checkpoint)")
            }
            return
        }
        guard let data = FileManager.default.contents(atPath: manifestURL.path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let files = json["files"] as? [String: [String: Any]] else {
            throw TrainingError.invalidCheckpoint(path: manifestURL.path, reason: "unreadable")
        }
        for path in files.keys.sorted() {
            let file = url.appendingPathComponent(path)
            let expected = files[path]!
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file.path) else {
                throw TrainingError.invalidCheckpoint(path: file.path, reason: "is missing (listed in \(manifestFile))")
            }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
            if let bytes = (expected["bytes"] as? NSNumber)?.intValue, bytes != size {
                throw TrainingError.invalidCheckpoint(path: file.path, reason: "has \(size) bytes, \(manifestFile) says \(bytes) (truncated or replaced)")
            }
            if let sha = expected["sha256"] as? String, try FileDigest.sha256(of: file) != sha {
                throw TrainingError.invalidCheckpoint(path: file.path, reason: "does not match its SHA-256 in \(manifestFile) (changed after it was written)")
            }
        }
    }

    /// The newest checkpoint of `run` that passes `verify`, and for each newer one that did
    /// not, why (so a caller can warn and fall back).
    public static func latestIntact(run: URL) -> (checkpoint: URL?, rejected: [(URL, any Error)]) {
        var rejected: [(URL, any Error)] = []
        for url in all(run: run).reversed() {
            do {
                try verify(url)
                return (url, rejected)
            } catch {
                rejected.append((url, error))
            }
        }
        return (nil, rejected)
    }

    /// Restores weights and optimizer state from `url` into `trainable` (matched by name) and
    /// returns the scalar state, after `verify` unless the caller already did (`verified`).
    /// Errors name the file and the tensor.
    static func restore(from url: URL, trainable: [Parameter], optimizer: any Optimizer, isAdapter: Bool,
                        verified: Bool = false) throws -> TrainerState {
        if !verified { try verify(url) }
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
