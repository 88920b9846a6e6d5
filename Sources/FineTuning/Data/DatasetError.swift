// DatasetError: everything that can be wrong with a training data set, each case naming
// the file and (for a JSONL line) the 1-based line number, and what was expected there.
// Loading never traps on user data: a bad line is one of these, thrown at the first problem.

/// Where a problem sits: a file, and a 1-based line when it concerns one JSONL line.
public struct DatasetLocation: Sendable, Equatable, CustomStringConvertible {
    /// The file path (or a caller-chosen name for in-memory data).
    public var file: String
    /// The 1-based line number, or nil when the problem concerns the whole file.
    public var line: Int?

    /// A location in `file`, at `line` when given.
    public init(file: String, line: Int? = nil) {
        self.file = file
        self.line = line
    }

    /// "file:line", or "file" alone.
    public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// Why a data set could not be found, read, parsed or tokenized.
public enum DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path does not exist, or a folder holds no `train.jsonl`.
    case notFound(path: String, detail: String)
    /// The file could not be read, or is not UTF-8.
    case unreadable(path: String, detail: String)
    /// The line is not a JSON object.
    case invalidJSON(DatasetLocation, detail: String)
    /// The object matches none of the formats (`text`, `prompt`/`completion`, `messages`,
    /// `instruction`/`output`).
    case unknownFormat(DatasetLocation, keys: [String])
    /// A key the format needs is absent.
    case missingKey(DatasetLocation, key: String, format: String)
    /// A key holds the wrong kind of value; `expected` says what it should hold.
    case invalidValue(DatasetLocation, key: String, expected: String)
    /// A message has a role we do not know how to render or mask.
    case unknownRole(DatasetLocation, index: Int, role: String)
    /// The chat template failed to render the conversation (message from the template engine).
    case template(DatasetLocation, detail: String)
    /// Rendering a conversation prefix did not tokenize to a prefix of the whole conversation,
    /// so assistant turns cannot be located in the token sequence.
    case unstablePrefix(DatasetLocation, messageIndex: Int, detail: String)
    /// The file holds no usable example (empty, or every example has no target token).
    case empty(path: String)
    /// The options are inconsistent (e.g. packing without a positive maximum length).
    case invalidOptions(String)

    /// Where the error arose, when it concerns one line.
    public var location: DatasetLocation? {
        switch self {
        case .invalidJSON(let l, _), .unknownFormat(let l, _), .missingKey(let l, _, _),
            .invalidValue(let l, _, _), .unknownRole(let l, _, _), .template(let l, _),
            .unstablePrefix(let l, _, _):
            return l
        case .notFound, .unreadable, .empty, .invalidOptions:
            return nil
        }
    }

    /// A one-line explanation starting with `file:line` and saying what was expected.
    public var description: String {
        switch self {
        case let .notFound(path, detail):
            return "\(path): \(detail)"
        case let .unreadable(path, detail):
            return "\(path): cannot read: \(detail)"
        case let .invalidJSON(at, detail):
            return "\(at): expected one JSON object per line: \(detail)"
        case let .unknownFormat(at, keys):
            let found = keys.isEmpty ? "no keys" : "keys " + keys.map { "\"\($0)\"" }.joined(separator: ", ")
            return "\(at): unknown record format (found \(found)); expected \"text\", \"prompt\"+\"completion\", "
                + "\"messages\" or \"instruction\"+\"output\""
        case let .missingKey(at, key, format):
            return "\(at): \(format) record is missing \"\(key)\""
        case let .invalidValue(at, key, expected):
            return "\(at): \"\(key)\" must be \(expected)"
        case let .unknownRole(at, index, role):
            return "\(at): messages[\(index)] has unknown role \"\(role)\"; expected one of "
                + DatasetRecord.knownRoles.sorted().joined(separator: ", ")
        case let .template(at, detail):
            return "\(at): chat template failed: \(detail)"
        case let .unstablePrefix(at, index, detail):
            return "\(at): cannot locate the assistant turn at messages[\(index)]: \(detail)"
        case let .empty(path):
            return "\(path): no usable examples (the file is empty or no example has a target token)"
        case let .invalidOptions(detail):
            return "invalid data set options: \(detail)"
        }
    }
}
