// An Ollama model name, `[HOST/][NAMESPACE/]MODEL[:TAG]`, with Ollama's defaults
// (registry.ollama.ai, library, latest). The parts are the manifest's path in the store:
// manifests/HOST/NAMESPACE/MODEL/TAG.

/// A model name in an Ollama store.
public struct OllamaModelName: Sendable, Hashable, CustomStringConvertible {
    /// Registry host, e.g. `registry.ollama.ai` or `hf.co` (may carry a `:port`).
    public var host: String
    /// Namespace (user or organisation), `library` for official models.
    public var namespace: String
    /// Model name.
    public var model: String
    /// Tag, `latest` unless given.
    public var tag: String

    /// Ollama's default registry host.
    public static let defaultHost = "registry.ollama.ai"
    /// Ollama's namespace of official models.
    public static let defaultNamespace = "library"
    /// The tag used when none is given.
    public static let defaultTag = "latest"

    /// A name from its parts.
    public init(host: String = defaultHost, namespace: String = defaultNamespace, model: String, tag: String = defaultTag) {
        self.host = host
        self.namespace = namespace
        self.model = model
        self.tag = tag
    }

    /// Reads `MODEL[:TAG]`, `NAMESPACE/MODEL[:TAG]` or `HOST/NAMESPACE/MODEL[:TAG]`.
    public init(parsing text: String) throws {
        func bad(_ reason: String) -> ModelStoreError { .invalidReference(ModelReference.ollamaPrefix + text, reason: reason) }
        guard !text.contains("@") else { throw bad("digests (@sha256:…) are not supported; name a tag") }
        var parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else { throw bad("expected MODEL[:TAG], NAMESPACE/MODEL[:TAG] or HOST/NAMESPACE/MODEL[:TAG]") }
        var last = parts.removeLast()
        var tag = Self.defaultTag
        if let colon = last.lastIndex(of: ":") {
            tag = String(last[last.index(after: colon)...])
            last = String(last[..<colon])
            guard !tag.isEmpty else { throw bad("empty tag after ':'") }
        }
        let host = parts.count == 2 ? parts[0] : Self.defaultHost
        let namespace = parts.last ?? Self.defaultNamespace
        for (what, value) in [("model", last), ("namespace", namespace), ("tag", tag)] {
            guard isSafeComponent(value), value.allSatisfy(isNameCharacter) else {
                throw bad("\(what) '\(value)' must be non-empty letters, digits, '_', '-' or '.'")
            }
        }
        guard isSafeComponent(host), host.allSatisfy({ isNameCharacter($0) || $0 == ":" }) else {
            throw bad("host '\(host)' must be letters, digits, '_', '-', '.' or ':'")
        }
        self.init(host: host, namespace: namespace, model: last, tag: tag)
    }

    /// The shortest spelling: the default host and namespace are left out, the tag is kept.
    public var description: String {
        var s = ""
        if host != Self.defaultHost { s = "\(host)/\(namespace)/" } else if namespace != Self.defaultNamespace { s = "\(namespace)/" }
        return s + "\(model):\(tag)"
    }

    /// The manifest's path below the store's `manifests` folder.
    var manifestComponents: [String] { [host, namespace, model, tag] }
}
