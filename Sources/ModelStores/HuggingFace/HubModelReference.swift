// A model on the Hugging Face hub as `hf:` names it: `ORG/NAME[/FILE.gguf][@REVISION]`.
// The revision is everything after the first '@' (branch, tag, `refs/pr/N` or a 40-hex
// commit), so it may itself hold slashes; a file is named only for a GGUF (a repo of several
// quantizations), the other files of a model are chosen by `HubFileSelection`.

/// A model repository on the hub, at a revision, optionally one GGUF file in it.
public struct HubModelReference: Sendable, Hashable, CustomStringConvertible {
    /// `ORG/NAME` (or a legacy `NAME`).
    public var repository: String
    /// Branch, tag or commit; `main` unless given.
    public var revision: String
    /// A `.gguf` file inside the repository (path relative to its root), when named.
    public var file: String?

    /// The revision used when none is given.
    public static let defaultRevision = "main"

    /// A reference from its parts.
    public init(repository: String, revision: String = defaultRevision, file: String? = nil) {
        self.repository = repository
        self.revision = revision
        self.file = file
    }

    /// Reads `ORG/NAME[/FILE.gguf][@REVISION]`.
    public init(parsing text: String) throws {
        func bad(_ reason: String) -> ModelStoreError { .invalidReference(ModelReference.huggingFacePrefix + text, reason: reason) }
        var body = Substring(text)
        var revision = Self.defaultRevision
        if let at = text.firstIndex(of: "@") {
            revision = String(text[text.index(after: at)...])
            body = text[..<at]
            guard !revision.isEmpty else { throw bad("empty revision after '@'") }
            guard !revision.contains(where: \.isWhitespace),
                  revision.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isSafeComponent) else {
                throw bad("revision '\(revision)' is not a branch, tag or commit name")
            }
        }
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy(isSafeComponent) else { throw bad("expected ORG/NAME[/FILE.gguf][@REVISION]") }
        let repoParts = parts.prefix(2)
        for p in repoParts {
            guard p.allSatisfy(isNameCharacter), !p.contains("--"), !p.contains(".."), p.first != "-", p.first != "." else {
                throw bad("'\(p)' is not a repository name (letters, digits, '_', '-', '.')")
            }
        }
        var file: String?
        if parts.count > 2 {
            let f = parts.dropFirst(2).joined(separator: "/")
            guard f.lowercased().hasSuffix(".gguf") else {
                throw bad("only a .gguf file can be named inside a repository ('\(f)'); name the repository alone for a safetensors model")
            }
            file = f
        }
        self.init(repository: repoParts.joined(separator: "/"), revision: revision, file: file)
    }

    /// The reference as typed (revision shown when not `main`).
    public var description: String {
        var s = repository
        if let file { s += "/" + file }
        if revision != Self.defaultRevision { s += "@" + revision }
        return s
    }

    /// True when the revision is a full commit hash (40 hex digits), which needs no lookup.
    public var revisionIsCommit: Bool { Self.isCommit(revision) }

    /// True for 40 lower-case hex digits.
    static func isCommit(_ s: String) -> Bool {
        s.count == 40 && s.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
