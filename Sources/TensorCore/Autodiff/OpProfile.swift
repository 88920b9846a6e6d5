// Where a training step's time goes, by op kind, for `lorikeet bench train --profile`. While
// `Tape.profile` is set, a tape charges each recorded op with the wall time since the previous
// record (or since the tape began: the op's own forward work), each backward rule with its own
// time, and callers charge other work by name (the optimizer update). Off by default: then the
// only cost is one nil check per op.
import Foundation

/// Wall time per op kind, forward and backward, plus named other work.
public final class OpProfile: @unchecked Sendable {
    /// Seconds of forward work per op kind ("linear", "attention", …).
    public private(set) var forward: [String: Double] = [:]
    /// Seconds of backward rules per op kind.
    public private(set) var backward: [String: Double] = [:]
    /// Seconds of work outside the tape, by name ("optimizer", …).
    public private(set) var other: [String: Double] = [:]
    var last = OpProfile.now()

    /// An empty profile.
    public init() {}

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Starts the clock for the next recorded op's forward work.
    func mark() { last = Self.now() }

    /// Charges the time since the last mark to `kind`'s forward work.
    func recorded(_ kind: String) {
        let t = Self.now()
        forward[kind, default: 0] += Double(t &- last) / 1e9
        last = t
    }

    func addBackward(_ kind: String, since start: UInt64) {
        let t = Self.now()
        backward[kind, default: 0] += Double(t &- start) / 1e9
        last = t
    }

    /// Runs `body`, charging its time to `name`.
    public func measure<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        let start = Self.now()
        defer { other[name, default: 0] += Double(Self.now() &- start) / 1e9 }
        return try body()
    }

    /// Forgets everything measured so far (after a warm-up step).
    public func reset() {
        forward = [:]
        backward = [:]
        other = [:]
        last = Self.now()
    }
}

extension Tape {
    /// The profile every tape charges its ops to; nil (the default) measures nothing. Set it
    /// while no other thread records ops.
    nonisolated(unsafe) public static var profile: OpProfile?
}

extension Op {
    /// The op's kind, as the profile names it.
    var kind: String {
        switch self {
        case .linear: "linear"
        case .loraLinear: "LoRA linear"
        case .embedding: "embedding"
        case .rmsnorm: "rmsnorm"
        case .rope: "rope"
        case .attention: "attention"
        case .swiglu: "swiglu"
        case .geglu: "geglu"
        case .silu: "silu"
        case .softcap: "softcap"
        case .add: "add"
        case .mul: "mul"
        case .scale: "scale"
        case .dropout: "dropout"
        case .crossEntropy: "cross-entropy"
        case .linearCrossEntropy: "head + cross-entropy"
        case .sum: "sum"
        case .reshape: "reshape"
        case .columns: "columns"
        case .checkpoint: "checkpoint"
        }
    }
}
