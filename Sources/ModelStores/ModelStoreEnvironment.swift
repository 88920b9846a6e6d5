// Where the stores live and how the hub is reached, read from environment variables the way
// Ollama and huggingface_hub read them. Taken as a dictionary so that callers (and tests
// running in parallel) can pass their own instead of changing the process environment.
import Foundation

/// The environment variables that locate the Ollama store and the Hugging Face cache.
public struct ModelStoreEnvironment: Sendable {
    /// The variables, by name.
    public var variables: [String: String]

    /// Reads from `variables` (by default the process environment).
    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
    }

    private func value(_ name: String) -> String? {
        guard let v = variables[name], !v.isEmpty else { return nil }
        return v
    }

    /// The user's home folder: `HOME`, else the account's.
    public var home: URL {
        URL(fileURLWithPath: value("HOME") ?? NSHomeDirectory(), isDirectory: true)
    }

    /// Ollama's models folder: `OLLAMA_MODELS`, else `~/.ollama/models`.
    public var ollamaModels: URL {
        if let v = value("OLLAMA_MODELS") { return URL(fileURLWithPath: expandingTilde(v), isDirectory: true) }
        return home.appendingPathComponent(".ollama/models", isDirectory: true)
    }

    /// huggingface_hub's home: `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    public var huggingFaceHome: URL {
        if let v = value("HF_HOME") { return URL(fileURLWithPath: expandingTilde(v), isDirectory: true) }
        if let x = value("XDG_CACHE_HOME") { return URL(fileURLWithPath: expandingTilde(x), isDirectory: true).appendingPathComponent("huggingface") }
        return home.appendingPathComponent(".cache/huggingface", isDirectory: true)
    }

    /// The hub cache: `HF_HUB_CACHE` (or the older `HUGGINGFACE_HUB_CACHE`), else `<HF home>/hub`.
    public var hubCache: URL {
        if let v = value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") {
            return URL(fileURLWithPath: expandingTilde(v), isDirectory: true)
        }
        return huggingFaceHome.appendingPathComponent("hub", isDirectory: true)
    }

    /// The hub's address: `HF_ENDPOINT`, else https://huggingface.co (no trailing slash).
    public var hubEndpoint: String {
        var e = value("HF_ENDPOINT") ?? "https://huggingface.co"
        while e.hasSuffix("/") { e.removeLast() }
        return e
    }

    /// The access token: `HF_TOKEN`, else the file `huggingface-cli login` saves
    /// (`HF_TOKEN_PATH`, else `<HF home>/token`).
    public var hubToken: String? {
        if let t = value("HF_TOKEN") { return t.trimmingCharacters(in: .whitespacesAndNewlines) }
        let file = value("HF_TOKEN_PATH").map { URL(fileURLWithPath: expandingTilde($0)) } ?? huggingFaceHome.appendingPathComponent("token")
        guard let t = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { return nil }
        return t
    }

    /// Whether the hub must not be contacted: `HF_HUB_OFFLINE` is 1, true, yes or on.
    public var hubOffline: Bool {
        guard let v = value("HF_HUB_OFFLINE")?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(v)
    }

    private func expandingTilde(_ path: String) -> String {
        if path == "~" { return home.path }
        if path.hasPrefix("~/") { return home.path + path.dropFirst() }
        return path
    }
}
