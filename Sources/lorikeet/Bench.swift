// `lorikeet bench …`: benchmark commands that print figures (never timed tests).
import ArgumentParser
import Foundation
import TensorCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Lorikeet's speed on this machine.",
        subcommands: [BenchKernels.self, BenchGenerate.self, BenchTrain.self]
    )
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GFLOP/s of the matrix products of a SmolLM2-135M step (ours vs raw cblas_sgemm) and GB/s of the other kernels."
    )

    @OptionGroup var compute: ComputeOptions
    @Option(help: "Tokens per step (rows of the activations).") var tokens = 1024
    @Option(help: "Minimum seconds per measurement.") var seconds = 0.3
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() throws {
        compute.apply()
        let rows = KernelBenchmark.run(tokens: tokens, minSeconds: seconds)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
            return
        }
        print("threads: \(Parallel.threadCount), tokens: \(tokens)")
        print(pad("kernel", 26) + pad("shape", 34) + lpad("ours", 10) + lpad("raw sgemm", 11) + lpad("ratio", 8) + "  unit")
        for r in rows {
            let raw = r.rawSgemm.map { String(format: "%.1f", $0) } ?? "-"
            let ratio = r.rawSgemm.map { String(format: "%.1f%%", 100 * r.ours / $0) } ?? ""
            print(pad(r.kernel, 26) + pad(r.shape, 34) + lpad(String(format: "%.1f", r.ours), 10) + lpad(raw, 11) + lpad(ratio, 8) + "  " + r.unit)
        }
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
