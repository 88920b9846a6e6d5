// The tokenized splits of a run's data, kept in the run folder (tokenized/<split>/) so that a
// resumed or restarted run reads them instead of tokenizing again. A split is four files:
// meta.json (key, counts, source), tokens.i32, masks.u8 and offsets.i64 (little-endian, the
// layout of the spill files). The key is a SHA-256 over the cache format, the data file's bytes,
// the tokenizer's definition (a folder's tokenizer.json and tokenizer_config.json, or a GGUF's
// header), the chat template, the BOS/EOS spellings and the options that change the tokens
// (maximum length, training on inputs). Any change gives another key: the split is tokenized
// again and replaced. A split whose files do not agree with their meta.json is remade too.
import Foundation
import ModelStores
import Llama

/// Where a run keeps its tokenized splits, and the fingerprint of the tokenizer they were made with.
public struct TokenCache: Sendable {
    /// Bump when the encoding of records changes (templates, masking, truncation), so that older
    /// caches are remade rather than read.
    public static let formatVersion = 1

    /// The folder holding one subfolder per split.
    public let folder: URL
    /// SHA-256 over everything of the model that decides the tokens.
    public let tokenizerFingerprint: String
    /// Whether `load` may write what it tokenized (one writer: rank 0 of a data-parallel run).
    public var writes: Bool

    /// A cache in `folder` for data tokenized by `model`'s tokenizer and chat template.
    public init(folder: URL, model: LoadedModel, writes: Bool = true) throws {
        self.folder = folder
        self.writes = writes
        var h = SHA256Hasher()
        if let gguf = model.source.gguf {
            try h.field(file: URL(fileURLWithPath: gguf.path), byteCount: Int64(gguf.dataOffset))
        } else {
            h.field(Data())
        }
        h.field(model.source.tokenizerJSON ?? Data())
        h.field(model.source.tokenizerConfigJSON ?? Data())
        h.field(model.chatTemplate?.source ?? "")
        h.field(model.bosToken)
        h.field(model.eosToken)
        tokenizerFingerprint = h.finalize()
    }

    /// The key of `file` tokenized with `options`.
    public func key(file: String, options: DatasetOptions) throws -> String {
        var h = SHA256Hasher()
        h.field("lorikeet token cache \(Self.formatVersion)")
        do { try h.field(file: URL(fileURLWithPath: file)) } catch {
            throw DatasetError.unreadable(path: file, detail: "cannot be read to check the token cache: \(error.localizedDescription)")
        }
        h.field(tokenizerFingerprint)
        h.field("max-seq-len \(options.maxSequenceLength) train-on-inputs \(options.trainOnInputs)")
        return h.finalize()
    }

    /// The split `name` of `file`: read from the cache when it holds this key, else tokenized by
    /// `tokenize` and (when `writes`) stored. A cache that cannot be written costs only the next
    /// run's tokenizing: the data set is returned all the same.
    public func load(_ name: String, file: String, options: DatasetOptions, tokenize: () throws -> Dataset) throws -> Dataset {
        let key = try key(file: file, options: options)
        if let cached = read(name, key: key, options: options) { return cached }
        let dataset = try tokenize()
        if writes { try? store(dataset, as: name, key: key) }
        return dataset
    }

    struct Meta: Codable {
        var format: Int
        var key: String
        var source: String
        var examples: Int
        var tokens: Int
        var stats: DatasetStats
    }

    /// The split `name` when its folder holds `key` and files that agree with it; else nil.
    func read(_ name: String, key: String, options: DatasetOptions) -> Dataset? {
        let dir = folder.appendingPathComponent(name)
        guard let bytes = FileManager.default.contents(atPath: dir.appendingPathComponent("meta.json").path),
              let meta = try? JSONDecoder().decode(Meta.self, from: bytes),
              meta.format == Self.formatVersion, meta.key == key, meta.examples > 0,
              let tokens = try? MappedSpill(file: dir.appendingPathComponent(SpillWriter.tokensFile).path),
              let masks = try? MappedSpill(file: dir.appendingPathComponent(SpillWriter.masksFile).path),
              let offsets = try? MappedSpill(file: dir.appendingPathComponent(SpillWriter.offsetsFile).path),
              tokens.size == meta.tokens * 4, masks.size == meta.tokens, offsets.size == (meta.examples + 1) * 8,
              let spilled = try? SpilledTokens(tokens: tokens, masks: masks, offsets: offsets, count: meta.examples),
              spilled.offsetsAreValid(total: meta.tokens)
        else { return nil }
        // Small sets are copied into memory (faster to batch from); big ones stay mapped.
        let examples = meta.tokens <= Dataset.memoryTokenBudget
            ? TokenizedExamples((0..<meta.examples).map(spilled.example)) : TokenizedExamples(spilled: spilled)
        var dataset = Dataset(examples: examples, stats: meta.stats, options: options, source: meta.source)
        dataset.cachedAt = dir
        return dataset
    }

    /// Writes `dataset` as the split `name` under `key`: into a fresh folder beside the old one,
    /// synced, then swapped in, so a crash leaves the old split or the new one, never half of one.
    func store(_ dataset: Dataset, as name: String, key: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let fresh = folder.appendingPathComponent(".\(name)-\(UUID().uuidString)")
        try fm.createDirectory(at: fresh, withIntermediateDirectories: false)
        do {
            let writer = try SpillWriter(keeping: fresh)
            for e in dataset.examples { try writer.append(e) }
            try writer.flushAndSync()
            let meta = Meta(format: Self.formatVersion, key: key, source: dataset.source, examples: dataset.examples.count,
                            tokens: dataset.stats.tokens, stats: dataset.stats)
            try JSONEncoder().encode(meta).write(to: fresh.appendingPathComponent("meta.json"), options: .atomic)
            let target = folder.appendingPathComponent(name)
            if fm.fileExists(atPath: target.path) {
                let old = folder.appendingPathComponent(".\(name)-old-\(UUID().uuidString)")
                try fm.moveItem(at: target, to: old)
                try? fm.removeItem(at: old)
            }
            try fm.moveItem(at: fresh, to: target)
        } catch {
            try? fm.removeItem(at: fresh)
            throw error
        }
    }
}
