// `lorikeet bench …`: benchmark commands that print figures (never timed tests).
import ArgumentParser
import Foundation
import TensorCore
import Quantization

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Lorikeet's speed on this machine.",
        subcommands: [BenchKernels.self, BenchGenerate.self, BenchTrain.self, BenchAllReduce.self, BenchServe.self]
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
        let rows = KernelBenchmark.run(tokens: tokens, minSeconds: seconds) + dequantizationRows(minSeconds: seconds)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
            return
        }
        print("threads: \(Parallel.threadCount), tokens: \(tokens), kernels: \(SIMDLevel.active)")
        print(pad("kernel", 26) + pad("shape", 34) + lpad("ours", 10) + lpad("raw sgemm", 11) + lpad("ratio", 8) + "  unit")
        for r in rows {
            let raw = r.rawSgemm.map { String(format: "%.1f", $0) } ?? "-"
            let ratio = r.rawSgemm.map { String(format: "%.1f%%", 100 * r.ours / $0) } ?? ""
            print(pad(r.kernel, 26) + pad(r.shape, 34) + lpad(String(format: "%.1f", r.ours), 10) + lpad(raw, 11) + lpad(ratio, 8) + "  " + r.unit)
        }
    }

    /// Widening a frozen 4-bit weight into f32 (what QLoRA pays before each product), GB/s of
    /// f32 written, for SmolLM2's MLP shape and Llama-2-7B's; GGUF block widening and the
    /// 8-bit optimizer state's round trip.
    func dequantizationRows(minSeconds: Double) -> [KernelBenchmarkRow] {
        var out: [KernelBenchmarkRow] = []
        var g = SeededGenerator(seed: 1)
        for (rows, cols) in [(1536, 576), (11008, 4096)] {
            let w = Tensor.randomNormal([rows, cols], std: 0.02, using: &g)
            guard let m = try? FourBitMatrix(quantizing: w, type: .nf4, blockSize: 64, doubleQuant: true) else { continue }
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rows * cols)
            defer { buffer.deallocate() }
            let seconds = KernelBenchmark.measure(minSeconds) { m.unpack(rows: 0..<rows, into: buffer) }
            out.append(KernelBenchmarkRow(kernel: "NF4 widen (double quant)", shape: "\(rows)×\(cols)",
                                          ours: Double(rows * cols * 4) / seconds / 1e9, rawSgemm: nil, unit: "GB/s"))
        }
        // GGML blocks as a GGUF model stores them (widened at load, or per product with
        // --quant keep). Random bytes below 0x40 keep every f16 scale finite.
        let (rows, cols) = (1536, 576)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: rows * cols)
        defer { buffer.deallocate() }
        for type in [GGMLType.q4_0, .q4_1, .q8_0, .q4_K, .q6_K, .f16] {
            guard let bytes = type.byteCount(elements: rows * cols) else { continue }
            let raw = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: g.next()) & 0x3F }
            let seconds = raw.withUnsafeBytes { src in
                KernelBenchmark.measure(minSeconds) { try? type.dequantize(src, count: rows * cols, into: buffer) }
            }
            out.append(KernelBenchmarkRow(kernel: "GGUF \(type) widen", shape: "\(rows)×\(cols)",
                                          ours: Double(rows * cols * 4) / seconds / 1e9, rawSgemm: nil, unit: "GB/s"))
        }
        // AdamW8bit's round trip of one moment: dequantize the 8-bit state, quantize it back.
        let state = Tensor.randomNormal([rows * cols], std: 0.01, using: &g).floats
        if let q = try? Blockwise8Bit(quantizing: state) {
            var codes = q.codes, absmax = q.absmax
            let seconds = KernelBenchmark.measure(minSeconds) {
                q.dequantize(into: buffer)
                Blockwise8Bit.quantize(UnsafeBufferPointer(start: buffer, count: rows * cols), codebook: .signed, blockSize: 256,
                                       codes: &codes, absmax: &absmax)
            }
            out.append(KernelBenchmarkRow(kernel: "8-bit state round trip", shape: "\(rows)×\(cols)",
                                          ours: Double(rows * cols * 10) / seconds / 1e9, rawSgemm: nil, unit: "GB/s"))
        }
        return out
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
