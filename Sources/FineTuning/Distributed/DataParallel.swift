// What the trainer does differently with several processes: each rank computes the gradients of
// its share of a step's micro-batches, and the ranks sum them (MPI_Allreduce over the trainable
// parameters' gradients seen as one flat vector, in their fixed order, bucketed through one
// staging buffer). With the optimizer state sharded (ZeRO stage 1) each rank updates its own
// contiguous run of parameters, then every rank's updated weights are all-gathered in rounds.
import TensorCore

/// A list of tensors seen as one vector, cut into pieces for copying to and from a buffer.
struct FlatLayout {
    /// Elements of each tensor.
    let counts: [Int]
    /// Where each tensor starts in the vector.
    let starts: [Int]
    /// Elements in all.
    let total: Int

    init(counts: [Int]) {
        self.counts = counts
        var s: [Int] = [], at = 0
        for c in counts { s.append(at); at += c }
        starts = s
        total = at
    }

    /// For the elements `range` of the vector: (tensor index, range within that tensor, offset from `range.lowerBound`).
    func pieces(_ range: Range<Int>) -> [(tensor: Int, within: Range<Int>, offset: Int)] {
        var out: [(Int, Range<Int>, Int)] = []
        guard !range.isEmpty else { return out }
        // The tensor holding range.lowerBound: the last start at or below it.
        var lo = 0, hi = counts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= range.lowerBound { lo = mid } else { hi = mid - 1 }
        }
        var i = lo
        while i < counts.count, starts[i] < range.upperBound {
            let a = max(range.lowerBound, starts[i]), b = min(range.upperBound, starts[i] + counts[i])
            if a < b { out.append((i, (a - starts[i])..<(b - starts[i]), a - range.lowerBound)) }
            i += 1
        }
        return out
    }
}

/// Sums gradients (and, sharded, gathers weights) across the ranks of a ProcessGroup.
final class DataParallel {
    let group: ProcessGroup
    /// Trainable parameters, in the trainer's fixed order.
    let parameters: [Parameter]
    let layout: FlatLayout
    /// With sharded optimizer state: the parameters each rank updates (contiguous index ranges).
    let shards: [Range<Int>]?
    private var staging: [Float] = []

    init(group: ProcessGroup, parameters: [Parameter], shardOptimizerState: Bool) {
        self.group = group
        self.parameters = parameters
        layout = FlatLayout(counts: parameters.map { $0.value.count })
        shards = shardOptimizerState ? Self.shards(counts: layout.counts, ranks: group.size) : nil
    }

    /// Contiguous runs of parameters with near-equal element counts, one per rank (a rank may
    /// get none when there are fewer parameters than ranks).
    static func shards(counts: [Int], ranks: Int) -> [Range<Int>] {
        let total = counts.reduce(0, +)
        var out: [Range<Int>] = [], start = 0, sum = 0
        for r in 0..<ranks {
            var end = start
            let goal = Double(total) * Double(r + 1) / Double(ranks)
            // Take parameters while the running sum stays nearer the goal with them than without.
            while end < counts.count && (r == ranks - 1 || Double(sum + counts[end]) - goal <= goal - Double(sum)) {
                sum += counts[end]
                end += 1
            }
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// The parameters this rank updates.
    var ownParameters: [Parameter] {
        guard let shards else { return parameters }
        return Array(parameters[shards[group.rank]])
    }

    private func stage(_ count: Int) {
        let n = min(max(count, 1), ProcessGroup.bucketFloats)
        if staging.count < n { staging = [Float](repeating: 0, count: n) }
    }

    /// Replaces every rank's gradients by their sum over ranks, and sums `scalars` (the loss) too.
    /// A parameter that got a gradient on some rank gets the sum on all (zeros stand in where a
    /// rank had none); one that got none anywhere keeps none.
    func allReduce(scalars: inout [Double]) throws {
        guard group.isDistributed else { return }
        var values = scalars + parameters.map { $0.grad == nil ? 0 : 1 }
        try group.allReduceSum(&values)
        scalars = Array(values[0..<scalars.count])
        let present = values[scalars.count...].map { $0 > 0 }
        for (p, has) in zip(parameters, present) where has && p.grad == nil { p.grad = Tensor(zeros: p.value.shape) }
        let included = parameters.indices.filter { present[$0] }
        let sub = FlatLayout(counts: included.map { layout.counts[$0] })
        stage(sub.total)
        var offset = 0
        while offset < sub.total {
            let n = min(staging.count, sub.total - offset)
            let pieces = sub.pieces(offset..<(offset + n))
            try staging.withUnsafeMutableBufferPointer { buffer in
                for (t, within, at) in pieces {
                    parameters[included[t]].grad!.withUnsafeFloats { g in
                        (buffer.baseAddress! + at).update(from: g.baseAddress! + within.lowerBound, count: within.count)
                    }
                }
                try group.allReduceSum(UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
                for (t, within, at) in pieces {
                    parameters[included[t]].grad!.withUnsafeMutableFloats { g in
                        (g.baseAddress! + within.lowerBound).update(from: buffer.baseAddress! + at, count: within.count)
                    }
                }
            }
            offset += n
        }
    }

    /// After each rank updated its own shard: every rank's updated weights copied to every rank,
    /// in rounds of MPI_Allgatherv, each rank sending up to bucket / size floats of its shard per round.
    func gatherWeights() throws {
        guard group.isDistributed, let shards else { return }
        let sizes = shards.map { r in r.reduce(0) { $0 + layout.counts[$1] } }
        let chunk = max(1, ProcessGroup.bucketFloats / group.size)
        let rounds = (sizes.max()! + chunk - 1) / chunk
        stage(chunk * group.size)
        let shardLayouts = shards.map { FlatLayout(counts: $0.map { layout.counts[$0] }) }
        for round in 0..<rounds {
            let ranges = sizes.map { (min($0, round * chunk))..<(min($0, (round + 1) * chunk)) }
            let counts = ranges.map(\.count), displacements = (0..<group.size).map { $0 * chunk }
            try staging.withUnsafeMutableBufferPointer { buffer in
                func each(rank r: Int, _ body: (Parameter, Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
                    for (t, within, at) in shardLayouts[r].pieces(ranges[r]) {
                        body(parameters[shards[r].lowerBound + t], within, buffer.baseAddress! + displacements[r] + at)
                    }
                }
                each(rank: group.rank) { p, within, slot in
                    p.value.withUnsafeFloats { w in slot.update(from: w.baseAddress! + within.lowerBound, count: within.count) }
                }
                try group.allGather(buffer, counts: counts, displacements: displacements)
                for r in 0..<group.size where r != group.rank {
                    each(rank: r) { p, within, slot in
                        p.value.withUnsafeMutableFloats { w in (w.baseAddress! + within.lowerBound).update(from: slot, count: within.count) }
                    }
                }
            }
        }
    }

    /// Sharded: the AdamW moments of every rank's shard, gathered on rank 0 into one optimizer
    /// that checkpoints as an unsharded run would (nil on the other ranks). Moments a rank has
    /// not made yet are zeros, which is what AdamW starts from.
    func gatheredOptimizer(_ own: AdamW) throws -> AdamW? {
        guard let shards, group.isDistributed else { return own }
        let sizes = shards.map { r in r.reduce(0) { $0 + layout.counts[$1] } }
        var mine = [Float](repeating: 0, count: 2 * sizes[group.rank])
        var at = 0
        for i in shards[group.rank] {
            let n = layout.counts[i]
            if let mv = own.moments[parameters[i].name] {
                mv.m.withUnsafeFloats { m in mine.withUnsafeMutableBufferPointer { (($0.baseAddress! + at)).update(from: m.baseAddress!, count: n) } }
                mv.v.withUnsafeFloats { v in mine.withUnsafeMutableBufferPointer { (($0.baseAddress! + sizes[group.rank] + at)).update(from: v.baseAddress!, count: n) } }
            }
            at += n
        }
        let counts = sizes.map { 2 * $0 }
        var displacements: [Int] = [], d = 0
        for c in counts { displacements.append(d); d += c }
        var all = group.isLeader ? [Float](repeating: 0, count: d) : []
        try mine.withUnsafeBufferPointer { send in
            if group.isLeader {
                try all.withUnsafeMutableBufferPointer { try group.gather(send, into: $0, counts: counts, displacements: displacements) }
            } else {
                try group.gather(send, into: nil, counts: counts, displacements: displacements)
            }
        }
        guard group.isLeader else { return nil }
        var moments: [String: (m: Tensor, v: Tensor)] = [:]
        for (r, shard) in shards.enumerated() {
            var offset = displacements[r]
            for i in shard {
                let p = parameters[i], n = layout.counts[i]
                moments[p.name] = (try Tensor(shape: p.value.shape, values: Array(all[offset..<(offset + n)])),
                                   try Tensor(shape: p.value.shape, values: Array(all[(offset + sizes[r])..<(offset + sizes[r] + n)])))
                offset += n
            }
        }
        let gathered = AdamW(config: own.config)
        gathered.restore(stepCount: own.stepCount, moments: moments)
        return gathered
    }
}
