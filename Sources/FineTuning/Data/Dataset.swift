// Dataset: the tokenized examples of one JSONL file, truncated to the maximum length, with
// statistics the CLI can show (how many examples were cut, how many tokens count in the loss).
// Examples left with no target token (e.g. a prompt longer than the maximum) are dropped and
// counted. DatasetFiles finds the splits of a folder (mlx-lm's train/valid/test.jsonl).
// Batches come from BatchIterator.
import Foundation
import TensorCore
import ChatTemplates
import Tokenizers
import Llama

/// How examples are tokenized, cut and batched.
public struct DatasetOptions: Sendable, Equatable, Codable {
    /// Examples longer than this many tokens are truncated (keeping the start); packed rows
    /// have exactly this length. mlx-lm's and TRL's default is 2048.
    public var maxSequenceLength: Int
    /// When true, prompt / user tokens count in the loss too.
    public var trainOnInputs: Bool
    /// When true, batches are rows of exactly `maxSequenceLength` tokens holding several
    /// examples each, kept apart by segment ids and restarting positions.
    public var packing: Bool

    /// Options with mlx-lm's defaults: 2048 tokens, loss on completions only, no packing.
    public init(maxSequenceLength: Int = 2048, trainOnInputs: Bool = false, packing: Bool = false) {
        self.maxSequenceLength = maxSequenceLength
        self.trainOnInputs = trainOnInputs
        self.packing = packing
    }
}

/// Counts over the examples of a data set, after truncation.
public struct DatasetStats: Sendable, Equatable, Codable {
    /// Examples kept.
    public var examples = 0
    /// Tokens over all kept examples.
    public var tokens = 0
    /// Target tokens (counted in the loss) over all kept examples.
    public var targetTokens = 0
    /// Examples that were longer than `maxSequenceLength` and cut.
    public var truncated = 0
    /// Examples dropped because no token of theirs was a target (after truncation).
    public var droppedWithoutTargets = 0
    /// The longest kept example, in tokens (after truncation).
    public var longest = 0
    /// The longest example before truncation.
    public var longestBeforeTruncation = 0

    /// Empty counts.
    public init() {}
}

/// The tokenized examples of one data file.
public struct Dataset: Sendable {
    /// The examples, in file order, each at most `options.maxSequenceLength` tokens (in memory,
    /// or in mapped temporary files past `Dataset.memoryTokenBudget` tokens).
    public var examples: TokenizedExamples
    /// Counts over `examples`.
    public var stats: DatasetStats
    /// The options the examples were made with.
    public var options: DatasetOptions
    /// The file (or name) the examples came from.
    public var source: String
    /// The token-cache folder the examples were read from; nil when they were tokenized now.
    public internal(set) var cachedAt: URL?

    /// Tokens a data set keeps in memory; past this its examples spill to mapped temporary files
    /// (in TMPDIR), so memory stays flat however big the JSONL is. 16 M tokens ≈ 150 MiB in memory.
    nonisolated(unsafe) public static var memoryTokenBudget = 16 << 20
    /// The longest JSONL line read (bytes); a longer one is refused with its file:line before it
    /// is held whole. LORIKEET_MAX_LINE_BYTES overrides the default of 64 MiB.
    nonisolated(unsafe) public static var maxLineBytes = ProcessInfo.processInfo.environment["LORIKEET_MAX_LINE_BYTES"].flatMap(Int.init) ?? 64 << 20

    /// A data set from examples already tokenized; truncates them and computes the stats.
    public init(examples: [TokenizedExample], options: DatasetOptions, source: String = "<memory>") throws {
        var builder = try DatasetBuilder(options: options)
        for e in examples { try builder.add(e) }
        self = try builder.finish(source: source)
    }

    init(examples: TokenizedExamples, stats: DatasetStats, options: DatasetOptions, source: String) {
        self.examples = examples
        self.stats = stats
        self.options = options
        self.source = source
    }

    /// Parses and tokenizes JSONL text (one record per non-blank line); `source` names it in errors.
    /// Lines are encoded on all cores; the error reported is the one of the first bad line.
    public init(jsonl text: String, source: String, encoder: DatasetEncoder, options: DatasetOptions) throws {
        var builder = try DatasetBuilder(options: options)
        var lines: [(number: Int, text: String)] = []
        for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated()
        where line.contains(where: { !$0.isWhitespace }) {
            lines.append((i + 1, String(line)))
            if lines.count == DatasetBuilder.linesPerBatch { try builder.encode(lines, source: source, encoder: encoder); lines = [] }
        }
        try builder.encode(lines, source: source, encoder: encoder)
        self = try builder.finish(source: source)
    }

    /// Loads one JSONL file, or `train.jsonl` of a folder.
    ///
    /// - Parameters:
    ///   - path: a `.jsonl` file, or a folder holding `train.jsonl`.
    ///   - tokenizer: the model's tokenizer.
    ///   - chatTemplate: the model's chat template (nil: ChatML for conversations, the Alpaca
    ///     prompt for alpaca records).
    ///   - bosToken: the BOS spelling the template sees.
    ///   - eosToken: the EOS spelling the template sees.
    ///   - options: length, masking and packing.
    /// - Throws: DatasetError naming file:line for a bad line, `.empty` when no example is usable.
    public static func load(path: String, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?,
                            bosToken: String, eosToken: String, options: DatasetOptions = DatasetOptions()) throws -> Dataset {
        let file = try DatasetFiles(path: path).train
        let encoder = DatasetEncoder(tokenizer: tokenizer, chatTemplate: chatTemplate, bosToken: bosToken,
                                     eosToken: eosToken, trainOnInputs: options.trainOnInputs)
        return try load(file: file, encoder: encoder, options: options)
    }

    /// Loads one JSONL file or a folder's `train.jsonl` with a loaded model's tokenizer and template.
    public static func load(path: String, model: LoadedModel, options: DatasetOptions = DatasetOptions()) throws -> Dataset {
        try load(path: path, tokenizer: model.tokenizer, chatTemplate: model.chatTemplate,
                 bosToken: model.bosToken, eosToken: model.eosToken, options: options)
    }

    /// Loads one JSONL file with `encoder`, reading and tokenizing it a batch of lines at a time
    /// (the text is never held whole; examples spill to disk past `memoryTokenBudget`); throws
    /// `.empty` when no example is usable.
    public static func load(file: String, encoder: DatasetEncoder, options: DatasetOptions) throws -> Dataset {
        var builder = try DatasetBuilder(options: options)
        try JSONLReader.forEachBatch(file: file, linesPerBatch: DatasetBuilder.linesPerBatch, maxLineBytes: maxLineBytes) { lines in
            try builder.encode(lines, source: file, encoder: encoder)
        }
        let dataset = try builder.finish(source: file)
        guard !dataset.examples.isEmpty else { throw DatasetError.empty(path: file) }
        return dataset
    }
}

extension Dataset {
    /// One pass over the examples in file order, `batchSize` per batch (or `tokenBudget` tokens;
    /// packed when the options say so, else padded or padding-free as training's batches): for
    /// evaluation, where order does not matter but every example must count once.
    public func evaluationBatches(batchSize: Int, padID: Int32 = 0, paddingFree: Bool = false,
                                  tokenBudget: Int? = nil) throws -> [TrainingBatch] {
        var iterator = try BatchIterator(dataset: self, batchSize: batchSize, shuffle: false, padID: padID,
                                         paddingFree: paddingFree, tokenBudget: tokenBudget)
        return iterator.remainingBatchesOfEpoch()
    }
}

/// The JSONL files of a data set's splits.
public struct DatasetFiles: Sendable, Equatable {
    /// The training file.
    public var train: String
    /// The validation file, when the folder has `valid.jsonl` (or `validation.jsonl`).
    public var valid: String?
    /// The test file, when the folder has `test.jsonl`.
    public var test: String?

    /// Resolves `path`: a folder must hold `train.jsonl`; a file is the training split.
    public init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.notFound(path: path, detail: "no such file or folder; expected a .jsonl file or a folder with train.jsonl")
        }
        guard isDirectory.boolValue else {
            self.train = path
            return
        }
        let folder = URL(fileURLWithPath: path)
        func existing(_ names: [String]) -> String? {
            names.lazy.map { folder.appendingPathComponent($0).path }.first { FileManager.default.fileExists(atPath: $0) }
        }
        guard let train = existing(["train.jsonl"]) else {
            throw DatasetError.notFound(path: path, detail: "the folder has no train.jsonl (optional: valid.jsonl, test.jsonl)")
        }
        self.train = train
        self.valid = existing(["valid.jsonl", "validation.jsonl"])
        self.test = existing(["test.jsonl"])
    }

    /// Names the files directly.
    public init(train: String, valid: String? = nil, test: String? = nil) {
        self.train = train
        self.valid = valid
        self.test = test
    }
}

/// The tokenized splits of a data set.
public struct DatasetSplits: Sendable {
    /// The training examples.
    public var train: Dataset
    /// The validation examples, when there is a validation file.
    public var valid: Dataset?
    /// The test examples, when there is a test file.
    public var test: Dataset?

    /// Loads every split found at `path` (see DatasetFiles); see `Dataset.load` for the parameters.
    /// With `cache`, a split whose key the cache holds is read from it, and one tokenized now is stored.
    public static func load(path: String, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?,
                            bosToken: String, eosToken: String,
                            options: DatasetOptions = DatasetOptions(), cache: TokenCache? = nil) throws -> DatasetSplits {
        let files = try DatasetFiles(path: path)
        let encoder = DatasetEncoder(tokenizer: tokenizer, chatTemplate: chatTemplate, bosToken: bosToken,
                                     eosToken: eosToken, trainOnInputs: options.trainOnInputs)
        func split(_ name: String, _ file: String) throws -> Dataset {
            let tokenize = { try Dataset.load(file: file, encoder: encoder, options: options) }
            guard let cache else { return try tokenize() }
            return try cache.load(name, file: file, options: options, tokenize: tokenize)
        }
        return DatasetSplits(train: try split("train", files.train), valid: try files.valid.map { try split("valid", $0) },
                             test: try files.test.map { try split("test", $0) })
    }

    /// Loads every split found at `path` with a loaded model's tokenizer and chat template.
    public static func load(path: String, model: LoadedModel, options: DatasetOptions = DatasetOptions(),
                            cache: TokenCache? = nil) throws -> DatasetSplits {
        try load(path: path, tokenizer: model.tokenizer, chatTemplate: model.chatTemplate,
                 bosToken: model.bosToken, eosToken: model.eosToken, options: options, cache: cache)
    }
}
