// An Ollama Modelfile for a base GGUF plus a GGUF LoRA adapter: FROM, ADAPTER, one
// `PARAMETER stop` per stop token, and a TEMPLATE (Go template syntax) only when the base has
// no chat template Ollama could read from the GGUF itself.

/// The text of a Modelfile `ollama create -f` reads.
public struct OllamaModelfile: Sendable, Equatable {
    /// The base model: a GGUF path (absolute, or relative to the Modelfile's folder).
    public var from: String
    /// The adapter GGUF's path, or nil for none.
    public var adapter: String?
    /// Strings that end a reply.
    public var stops: [String]
    /// A Go-template TEMPLATE, when one is needed.
    public var template: String?

    /// Creates a Modelfile.
    public init(from: String, adapter: String?, stops: [String], template: String?) {
        self.from = from
        self.adapter = adapter
        self.stops = stops
        self.template = template
    }

    /// ChatML in Ollama's template language (what Lorikeet renders for a model with no template).
    public static let chatMLTemplate = """
        {{- range .Messages }}<|im_start|>{{ .Role }}
        {{ .Content }}<|im_end|>
        {{ end }}<|im_start|>assistant

        """

    /// The Modelfile's text.
    public var text: String {
        var lines = ["FROM \(Self.quoted(from))"]
        if let adapter { lines.append("ADAPTER \(Self.quoted(adapter))") }
        for s in stops { lines.append("PARAMETER stop \(Self.quotedString(s))") }
        if let template { lines.append("TEMPLATE \"\"\"\(template)\"\"\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A lower-case Ollama model name from an adapter path: the folder's name (its parent's when
    /// it is a run's `adapter` folder), with characters Ollama refuses replaced by "-".
    public static func modelName(adapterPath: String) -> String {
        var parts = adapterPath.split(separator: "/").map(String.init)
        if parts.last == "adapter", parts.count > 1 { parts.removeLast() }
        var stem = parts.last ?? "lorikeet"
        if stem.hasSuffix(".gguf") { stem = String(stem.dropLast(5)) }
        let cleaned = String(stem.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "-" })
        return cleaned.isEmpty ? "lorikeet" : cleaned
    }

    /// A path as a Modelfile argument: bare unless it holds a space or quote.
    static func quoted(_ path: String) -> String {
        path.contains(where: { $0 == " " || $0 == "\"" }) ? quotedString(path) : path
    }

    /// A double-quoted string with backslashes and quotes escaped.
    static func quotedString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
