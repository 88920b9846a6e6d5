// `--model` as a path or a store reference (`ollama:NAME[:TAG]`, `hf:ORG/NAME[/FILE.gguf][@REV]`):
// resolved through ModelResolver with the process environment, hub downloads drawn as a
// progress bar on stderr (one line per file when stderr is not a terminal).
import Foundation
import Llama
import ModelStores

extension ModelOption {
    /// Opens `--model`, downloading a hub model first when the cache lacks it.
    func open() throws -> ModelSource { try openModel(model) }
}

/// Opens a model path or reference (see `resolveModel`).
func openModel(_ reference: String) throws -> ModelSource {
    try ModelSource.open(resolveModel(reference))
}

/// Resolves a model path or reference, showing downloads on stderr and noting an Ollama
/// model's adapter layers, which Lorikeet does not apply.
func resolveModel(_ reference: String) throws -> ResolvedModel {
    let bar = DownloadProgressBar()
    let resolved = try ModelResolver(progress: bar.report).resolve(reference)
    if case let .ollama(model) = resolved.origin, !model.adapters.isEmpty {
        FileHandle.standardError.write(Data(("note: \(resolved.origin.reference ?? reference) has \(model.adapters.count) adapter layer(s); "
            + "Lorikeet loads the base model (\(model.model.url.lastPathComponent)) without them\n").utf8))
    }
    return resolved
}

/// Draws download progress on stderr: a bar redrawn in place on a terminal, else one line
/// when each file starts and ends.
final class DownloadProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let tty = isatty(2) == 1
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var resumedFrom: Int64 = 0

    var report: DownloadProgressHandler { { [self] p in lock.withLock { handle(p) } } }

    private func handle(_ p: DownloadProgress) {
        let name = "hf:\(p.repository) \(p.file)"
        switch p.event {
        case .started:
            started = Date()
            resumedFrom = p.bytesDone
            if !tty {
                let resume = p.bytesDone > 0 ? ", resuming at \(Self.size(p.bytesDone))" : ""
                write("downloading \(name) (\(Self.size(p.bytesTotal))\(resume))\n")
            } else {
                draw(p, name)
            }
        case .received:
            guard tty, Date().timeIntervalSince(lastDraw) >= 0.1 else { return }
            draw(p, name)
        case .finished:
            if tty { draw(p, name); write("\n") } else { write("downloaded \(name) (\(rate(p.bytesDone)))\n") }
        }
    }

    private func draw(_ p: DownloadProgress, _ name: String) {
        lastDraw = Date()
        let fraction = p.bytesTotal > 0 ? min(1, Double(p.bytesDone) / Double(p.bytesTotal)) : 1
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        write("\r\(name)  [\(bar)] \(String(format: "%3.0f", fraction * 100))%  \(Self.size(p.bytesDone))/\(Self.size(p.bytesTotal))  \(rate(p.bytesDone))\u{1B}[K")
    }

    private func rate(_ done: Int64) -> String {
        let seconds = max(Date().timeIntervalSince(started), 1e-3)
        return Self.size(Int64(Double(done - resumedFrom) / seconds)) + "/s"
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    static func size(_ bytes: Int64) -> String {
        let b = Double(bytes)
        if b >= 1e9 { return String(format: "%.2f GB", b / 1e9) }
        if b >= 1e6 { return String(format: "%.1f MB", b / 1e6) }
        if b >= 1e3 { return String(format: "%.0f kB", b / 1e3) }
        return "\(bytes) B"
    }
}
