// `lorikeet bench allreduce`: under mpirun, the time of the gradient all-reduce a data-parallel
// step makes (one buffer of --floats f32 values, summed over the ranks in ProcessGroup's
// buckets), median of --rounds, with the bus bandwidth (each rank of a ring all-reduce sends
// and receives 2·(N−1)/N of the buffer), beside what a link of --link-gbit would take.
import ArgumentParser
import Foundation
import TensorCore
import FineTuning

struct BenchAllReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time the gradient all-reduce of a data-parallel step (run under mpirun).",
        discussion: """
        --floats is the trainable parameter count: 4884480 for SmolLM2-135M LoRA r16 all-linear, 41943040 for
        Llama-3-8B r16 all-linear (`lorikeet estimate … --method lora` prints it).
        """)

    @Option(help: "Floats in the buffer (trainable parameters).") var floats = 4_884_480
    @Option(help: "Timed all-reduces (after one warm-up).") var rounds = 5
    @Option(name: .customLong("link-gbit"), help: "Also print the time a link of this many Gbit/s would need.") var linkGbit: [Double] = [1, 10]
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let group = try ProcessGroup.fromEnvironment()
        try asRank(of: group) { try measure(group: group) }
    }

    func measure(group: ProcessGroup) throws {
        guard group.isDistributed else { throw CommandFailure("bench allreduce needs several processes: mpirun -np 2 lorikeet bench allreduce") }
        guard floats >= 1, rounds >= 1 else { throw ValidationError("--floats and --rounds must be ≥ 1") }
        var buffer = [Float](repeating: 0, count: floats)
        let expected = Float(group.size * (group.size + 1) / 2)  // every rank adds rank + 1 to every element
        var times: [Double] = []
        for round in 0...rounds {
            for i in buffer.indices { buffer[i] = Float(group.rank + 1) }
            try group.barrier()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try buffer.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if round > 0 { times.append(seconds) }
            guard buffer[0] == expected, buffer[floats / 2] == expected, buffer[floats - 1] == expected else {
                throw CommandFailure("rank \(group.rank): the all-reduce gave \(buffer[0]), expected \(expected)")
            }
        }
        var medians = [times.sorted()[times.count / 2]]
        try group.allReduceSum(&medians)
        guard group.isLeader else { return }
        let median = medians[0] / Double(group.size)  // mean over ranks of each rank's median
        let bytes = Double(floats * 4)
        let moved = 2 * Double(group.size - 1) / Double(group.size) * bytes
        let links = linkGbit.map { ($0, moved / ($0 * 1e9 / 8)) }
        if json {
            let obj: [String: Any] = ["ranks": group.size, "floats": floats, "bytes": Int(bytes), "bytes_sent_per_rank": Int(moved),
                                      "seconds_median": median, "bus_gbit_per_second": moved * 8 / median / 1e9,
                                      "link_seconds": Dictionary(uniqueKeysWithValues: links.map { (String($0.0), $0.1) })]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "all-reduce of %d floats (%@) over %d ranks (%@): %.1f ms median of %d, each rank sends %@ → %.2f Gbit/s",
                         floats, MemoryStats.formatBytes(Int(bytes)), group.size, group.implementation ?? "MPI", median * 1000, rounds,
                         MemoryStats.formatBytes(Int(moved)), moved * 8 / median / 1e9))
            for (gbit, seconds) in links { print(String(format: "  a %g Gbit/s link needs at least %.1f ms", gbit, seconds * 1000)) }
        }
    }
}
