// Which optimizer a run uses, as one choice shared by the trainer, the memory estimator and
// the command line (the settings file keeps it as the keys optimizer and
// optimizer-state-on-disk), and how each is built.
import Foundation
import TensorCore

/// Which optimizer updates the trainable weights, and where its state lives.
public enum OptimizerChoice: String, Hashable, Sendable, CaseIterable {
    /// AdamW with f32 moments in memory (8 bytes per trainable weight).
    case adamw
    /// AdamW with 8-bit blockwise moments (bitsandbytes' scheme; small tensors stay 32-bit).
    case adamw8bit
    /// AdamW with f32 moments in a memory-mapped file whose pages are dropped after each update.
    case adamwOnDisk = "adamw-on-disk"

    /// Resident bytes of optimizer state per trainable weight while training.
    public var residentBytesPerWeight: Double {
        switch self {
        case .adamw: 8
        case .adamw8bit: 2 * (1 + 4.0 / 256)
        case .adamwOnDisk: 0  // pages are released after each parameter's update
        }
    }
}

extension OptimizerChoice {
    /// A fresh optimizer of this kind with `config`; the on-disk one keeps its (unlinked)
    /// state file in `stateDirectory`.
    public func make(_ config: AdamWConfig, stateDirectory: URL) throws -> any Optimizer {
        switch self {
        case .adamw: AdamW(config: config)
        case .adamw8bit: AdamW8bit(config: config)
        case .adamwOnDisk: try DiskBackedAdamW(config: config, directory: stateDirectory)
        }
    }
}
