// Learning-rate schedules with warmup, as transformers' get_*_schedule_with_warmup define
// them: linear warmup from 0 over `warmup` steps, then constant, linear decay to 0, or a
// half-cosine to 0 at the last step. `step` counts optimizer updates already taken.
import Foundation

/// The shape of the learning rate over training.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    /// The peak rate after warmup, to the end.
    case constant
    /// Linear decay from the peak to 0 at the last step.
    case linear
    /// A half-cosine from the peak to 0 at the last step.
    case cosine
}

/// A learning-rate schedule.
public struct LearningRateSchedule: Sendable, Equatable {
    public var kind: ScheduleKind
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    /// Creates a schedule.
    public init(kind: ScheduleKind, peak: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.peak = peak
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(1, totalSteps)
    }

    /// The learning rate for the update that follows `step` completed updates.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return peak
        case .linear:
            return peak * max(0, Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return peak * Float(max(0, 0.5 * (1 + cos(Double.pi * progress))))
        }
    }
}
