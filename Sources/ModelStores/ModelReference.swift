// What `--model` names: a path, or a model in a store the user already has — `ollama:NAME[:TAG]`
// (the local Ollama store) or `hf:ORG/NAME[/FILE.gguf][@REVISION]` (the Hugging Face cache,
// downloading what is missing). Parsing only: `ModelResolver` finds the files.

/// A model as the user names it.
public enum ModelReference: Sendable, Hashable, CustomStringConvertible {
    /// A model folder or GGUF file on disk.
    case path(String)
    /// A model in the local Ollama store.
    case ollama(OllamaModelName)
    /// A model repository on the Hugging Face hub (through its local cache).
    case huggingFace(HubModelReference)

    /// The prefix of an Ollama reference.
    public static let ollamaPrefix = "ollama:"
    /// The prefix of a Hugging Face reference.
    public static let huggingFacePrefix = "hf:"

    /// Reads `text`: `ollama:…` and `hf:…` name store models, anything else is a path.
    /// (The resolver still treats `text` as a path when a file or folder of that name exists.)
    /// Throws `ModelStoreError.invalidReference` for a malformed store name.
    public init(parsing text: String) throws {
        if text.hasPrefix(Self.ollamaPrefix) {
            self = .ollama(try OllamaModelName(parsing: String(text.dropFirst(Self.ollamaPrefix.count))))
        } else if text.hasPrefix(Self.huggingFacePrefix) {
            self = .huggingFace(try HubModelReference(parsing: String(text.dropFirst(Self.huggingFacePrefix.count))))
        } else {
            self = .path(text)
        }
    }

    /// True when `text` is spelled as a store reference (`ollama:` or `hf:`).
    public static func isStoreReference(_ text: String) -> Bool {
        text.hasPrefix(ollamaPrefix) || text.hasPrefix(huggingFacePrefix)
    }

    /// The reference as the user would type it.
    public var description: String {
        switch self {
        case let .path(p): p
        case let .ollama(n): Self.ollamaPrefix + n.description
        case let .huggingFace(r): Self.huggingFacePrefix + r.description
        }
    }
}

/// Characters allowed in names, tags and repository components (`[A-Za-z0-9_.-]`).
func isNameCharacter(_ c: Character) -> Bool {
    c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == ".")
}

/// Rejects empty components and `.` / `..`, which would step out of the store's folders.
func isSafeComponent(_ s: some StringProtocol) -> Bool {
    !s.isEmpty && s != "." && s != ".."
}
