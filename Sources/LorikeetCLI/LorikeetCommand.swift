// The `lorikeet` command: the only layer that prints. Subcommands live in their own files.
import ArgumentParser
import Foundation
import FineTuning
import TensorCore

@main
struct LorikeetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorikeet",
        abstract: "Fine-tune Llama-family language models on the CPU.",
        version: LorikeetVersion.string,
        subcommands: [Train.self, Estimate.self, Generate.self, Chat.self, Serve.self, Eval.self, Merge.self, Export.self, Quantize.self, Tokenize.self, Inspect.self, Bench.self]
    )

    static func main() {
        restartWithNativeBLASKernels()
        main(nil)
    }
}

/// Where OpenBLAS fell back to its generic SSE3 kernels on a CPU with AVX2 or AVX-512
/// (BLAS.betterOpenBLASCore), runs this program again with OPENBLAS_CORETYPE naming the
/// right ones: OpenBLAS reads it only as it loads. LORIKEET_KEEP_BLAS_CORE=1 keeps its choice.
func restartWithNativeBLASKernels() {
    #if os(Linux)
    guard ProcessInfo.processInfo.environment["LORIKEET_KEEP_BLAS_CORE"] == nil, let core = BLAS.betterOpenBLASCore else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    let args = CommandLine.arguments
    var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    execv("/proc/self/exe", &argv)
    // execv returned: keep going with OpenBLAS's own choice.
    unsetenv("OPENBLAS_CORETYPE")
    #endif
}

/// Options shared by every command that computes.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for kernels and BLAS (default: LORIKEET_THREADS or the number of cores).")
    var threads: Int?

    func apply() {
        if let threads { Parallel.threadCount = threads } else { Parallel.threadCount = Parallel.threadCount }
    }
}

/// Runs a command's work as one rank of `group`: alone, as is; under MPI, finalized at the end,
/// or, on an error, printed with the rank and the whole job aborted (the other ranks would
/// otherwise wait in a collective for ever).
func asRank(of group: ProcessGroup, _ body: () throws -> Void) throws {
    guard group.usesMPI else { return try body() }
    do {
        try body()
        group.finalize()
    } catch {
        FileHandle.standardError.write(Data("Error: rank \(group.rank) of \(group.size): \(error)\n".utf8))
        group.abort(code: 1)
    }
}

extension ComputeOptions {
    /// `apply()`, and under MPI without --threads or LORIKEET_THREADS, the cores shared among this host's ranks.
    func apply(for group: ProcessGroup) {
        apply()
        if group.isDistributed && threads == nil && ProcessInfo.processInfo.environment["LORIKEET_THREADS"] == nil {
            Parallel.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount / group.localSize)
        }
    }
}

/// A failure found while running a command (an unreadable file, a run that will not fit, a
/// model in the wrong form) rather than a mistake in its arguments: printed as "Error: …"
/// without the usage text that ArgumentParser adds to a `ValidationError`.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Flushes stdout so streamed tokens appear at once.
func flushStandardOutput() {
    fflush(nil)  // nil flushes every output stream; naming `stdout` trips strict concurrency
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
