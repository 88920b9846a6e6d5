// The `lorikeet` command: the only layer that prints. Subcommands live in their own files.
import ArgumentParser
import TensorCore

@main
struct LorikeetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorikeet",
        abstract: "Fine-tune Llama-family language models on the CPU.",
        version: LorikeetVersion.string,
        subcommands: [Train.self, Estimate.self, Generate.self, Chat.self, Eval.self, Merge.self, Export.self, Quantize.self, Tokenize.self, Inspect.self, Bench.self]
    )
}

/// Options shared by every command that computes.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for kernels and BLAS (default: LORIKEET_THREADS or the number of cores).")
    var threads: Int?

    func apply() {
        if let threads { Parallel.threadCount = threads } else { Parallel.threadCount = Parallel.threadCount }
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
