// The token cache of a run folder: a second load reads the same examples and counts from it;
// a changed data file, maximum length or chat template remakes it; damaged files are remade,
// not trusted; a big split is read back mapped; and `lorikeet train` reuses it on resume.
import XCTest
import Foundation
@testable import Llama
@testable import FineTuning

final class TokenCacheTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-token-cache-\(UUID().uuidString)")
        let data = work.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let veloria = DataTestSupport.repoRoot.appendingPathComponent("examples/veloria")
        let lines = try String(contentsOf: veloria.appendingPathComponent("train.jsonl"), encoding: .utf8).split(separator: "\n").prefix(40)
        try (lines.joined(separator: "\n") + "\n").write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: veloria.appendingPathComponent("valid.jsonl"), to: data.appendingPathComponent("valid.jsonl"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    var dataPath: String { work.appendingPathComponent("data").path }
    var cacheFolder: URL { work.appendingPathComponent("run/tokenized") }

    func load(_ model: LoadedModel, options: DatasetOptions = DatasetOptions(maxSequenceLength: 512)) throws -> DatasetSplits {
        try DatasetSplits.load(path: dataPath, model: model, options: options, cache: TokenCache(folder: cacheFolder, model: model))
    }

    func assertSame(_ a: Dataset, _ b: Dataset, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.examples.count, b.examples.count, file: file, line: line)
        XCTAssertTrue(a.examples == b.examples, "the cached examples differ from the tokenized ones", file: file, line: line)
        XCTAssertEqual(a.stats, b.stats, file: file, line: line)
        XCTAssertEqual(a.source, b.source, file: file, line: line)
    }

    func testASecondLoadReadsTheSameExamplesFromTheCache() throws {
        let model = try DataTestSupport.smolLM2()
        let plain = try DatasetSplits.load(path: dataPath, model: model, options: DatasetOptions(maxSequenceLength: 512))
        let first = try load(model)
        XCTAssertNil(first.train.cachedAt)
        XCTAssertNil(first.valid?.cachedAt)
        for split in ["train", "valid"] {
            for file in ["meta.json", "tokens.i32", "masks.u8", "offsets.i64"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: cacheFolder.appendingPathComponent("\(split)/\(file)").path), "\(split)/\(file)")
            }
        }
        let tokens = try FileManager.default.attributesOfItem(atPath: cacheFolder.appendingPathComponent("train/tokens.i32").path)[.size] as! Int
        XCTAssertEqual(tokens, 4 * plain.train.stats.tokens)
        let second = try load(model)
        XCTAssertEqual(second.train.cachedAt?.lastPathComponent, "train")
        XCTAssertEqual(second.valid?.cachedAt?.lastPathComponent, "valid")
        assertSame(second.train, plain.train)
        assertSame(try XCTUnwrap(second.valid), try XCTUnwrap(plain.valid))
        XCTAssertFalse(second.train.examples.isSpilled)
        // Only the split folders are left behind (no half-written temporaries).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path).sorted(), ["train", "valid"])
    }

    func testAChangedFileLengthOrTemplateIsTokenizedAgain() throws {
        let model = try DataTestSupport.smolLM2()
        _ = try load(model)
        // The data: one line fewer.
        let train = work.appendingPathComponent("data/train.jsonl")
        let lines = try String(contentsOf: train, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(to: train, atomically: true, encoding: .utf8)
        let edited = try load(model)
        XCTAssertNil(edited.train.cachedAt, "the data changed")
        XCTAssertEqual(edited.train.examples.count, lines.count - 1)
        XCTAssertNotNil(edited.valid?.cachedAt, "valid.jsonl did not change")
        XCTAssertEqual(try load(model).train.examples.count, lines.count - 1, "the replaced cache holds the new data")
        // The maximum length.
        let short = try load(model, options: DatasetOptions(maxSequenceLength: 64))
        XCTAssertNil(short.train.cachedAt)
        XCTAssertEqual(short.train.stats.longest, 64)
        XCTAssertGreaterThan(short.train.stats.truncated, 0)
        // Training on inputs changes the targets, not the tokens: a different key all the same.
        XCTAssertNil(try load(model, options: DatasetOptions(maxSequenceLength: 64, trainOnInputs: true)).train.cachedAt)
        // Packing is how batches are laid out, not what the examples are: the cache is read.
        XCTAssertNotNil(try load(model, options: DatasetOptions(maxSequenceLength: 64, trainOnInputs: true, packing: true)).train.cachedAt)
        // Another tokenizer definition (here only the chat template) gives another fingerprint.
        let a = try TokenCache(folder: cacheFolder, model: model)
        let b = try TokenCache(folder: cacheFolder, model: LoadedModel(model: model.model, tokenizer: model.tokenizer, chatTemplate: nil,
                                                                         bosToken: model.bosToken, eosToken: model.eosToken,
                                                                         stopTokenIDs: model.stopTokenIDs, source: model.source))
        XCTAssertNotEqual(a.tokenizerFingerprint, b.tokenizerFingerprint)
        XCTAssertNotEqual(try a.key(file: train.path, options: DatasetOptions()), try b.key(file: train.path, options: DatasetOptions()))
    }

    func testDamagedFilesAreRemadeNotTrusted() throws {
        let model = try DataTestSupport.smolLM2()
        let plain = try load(model).train
        let tokens = cacheFolder.appendingPathComponent("train/tokens.i32")
        let bytes = try Data(contentsOf: tokens)
        try bytes.prefix(bytes.count - 4).write(to: tokens)  // one token short
        let remade = try load(model)
        XCTAssertNil(remade.train.cachedAt)
        assertSame(remade.train, plain)
        // Offsets that no longer add up (same sizes, wrong values).
        let offsets = cacheFolder.appendingPathComponent("train/offsets.i64")
        var o = try Data(contentsOf: offsets)
        o[8] = 0xFF
        try o.write(to: offsets)
        XCTAssertNil(try load(model).train.cachedAt)
        try Data("{".utf8).write(to: cacheFolder.appendingPathComponent("train/meta.json"))
        XCTAssertNil(try load(model).train.cachedAt)
        XCTAssertNotNil(try load(model).train.cachedAt, "remade again after each")
    }

    func testABigSplitIsReadBackMapped() throws {
        let model = try DataTestSupport.smolLM2()
        let saved = Dataset.memoryTokenBudget
        defer { Dataset.memoryTokenBudget = saved }
        Dataset.memoryTokenBudget = 500
        let first = try load(model)
        XCTAssertTrue(first.train.examples.isSpilled)
        let second = try load(model)
        XCTAssertNotNil(second.train.cachedAt)
        XCTAssertTrue(second.train.examples.isSpilled)
        assertSame(second.train, first.train)
    }
}
