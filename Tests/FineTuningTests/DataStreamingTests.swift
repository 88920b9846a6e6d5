// Data that does not fit in memory: a JSONL file is read a chunk at a time and its examples spill
// to mapped temporary files past a token budget. A spilled data set must be the in-memory one
// exactly (examples, stats, shuffled and packed batches), nothing may be left on disk, and bad
// lines (too long, not UTF-8) are refused with their file:line.
import XCTest
import Foundation
@testable import FineTuning

final class DataStreamingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-stream-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
        Dataset.memoryTokenBudget = 16 << 20
        Dataset.maxLineBytes = 64 << 20
    }

    /// A JSONL of `count` prompt/completion records of varied lengths.
    func writeJSONL(_ count: Int, name: String = "train.jsonl") throws -> String {
        var text = ""
        for i in 0..<count {
            let prompt = String(repeating: "p\(i % 7)", count: 1 + i % 5)
            let completion = String(repeating: "c\(i % 3) ", count: 1 + (i * 7) % 11)
            text += #"{"prompt": "\#(prompt)", "completion": "\#(completion)"}"# + (i % 4 == 0 ? "\r\n" : "\n")
            if i % 9 == 0 { text += "   \n" }  // blank lines are skipped but counted
        }
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSpilledDataSetEqualsTheInMemoryOne() throws {
        let file = try writeJSONL(300)
        let encoder = DatasetEncoder.characters()
        for packing in [false, true] {
            let options = DatasetOptions(maxSequenceLength: 40, packing: packing)
            let memory = try Dataset.load(file: file, encoder: encoder, options: options)
            XCTAssertFalse(memory.examples.isSpilled)
            Dataset.memoryTokenBudget = 50  // spill after a few examples
            let spilled = try Dataset.load(file: file, encoder: encoder, options: options)
            Dataset.memoryTokenBudget = 16 << 20
            XCTAssertTrue(spilled.examples.isSpilled)
            XCTAssertEqual(spilled.stats, memory.stats)
            XCTAssertEqual(spilled.examples, memory.examples)
            XCTAssertEqual(spilled.examples.lengths, memory.examples.map { $0.count })
            XCTAssertGreaterThan(memory.stats.truncated, 0, "some examples are cut at 40 tokens")
            var a = try BatchIterator(dataset: memory, batchSize: 4, seed: 9)
            var b = try BatchIterator(dataset: spilled, batchSize: 4, seed: 9)
            for _ in 0..<(2 * a.batchesPerEpoch + 3) {
                let (x, y) = (a.next(), b.next())
                XCTAssertEqual(x.epoch, y.epoch)
                XCTAssertEqual(x.batch.inputIDs, y.batch.inputIDs)
                XCTAssertEqual(x.batch.targets, y.batch.targets)
            }
        }
        // The spill files were unlinked when created: nothing named lorikeet-* is left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("lorikeet-tokens-") || $0.hasPrefix("lorikeet-masks-") || $0.hasPrefix("lorikeet-offsets-") }
        XCTAssertEqual(left, [])
    }

    func testReaderKeepsLinesWholeAcrossChunks() throws {
        // 6 MiB of lines of many lengths: some cross the reader's 4 MiB chunk boundary.
        var text = "", expected: [String] = []
        var i = 0
        while text.utf8.count < 6 << 20 {
            let line = String(repeating: "x", count: 1 + (i * 7919) % 5000) + "\(i)"
            expected.append(line)
            text += line + (i % 2 == 0 ? "\n" : "\r\n")
            i += 1
        }
        text += "no newline at the end"
        expected.append("no newline at the end")
        let path = dir.appendingPathComponent("big.jsonl").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var got: [String] = [], numbers: [Int] = []
        try JSONLReader.forEachBatch(file: path, linesPerBatch: 1000, maxLineBytes: 1 << 20) { batch in
            got += batch.map(\.text)
            numbers += batch.map(\.number)
        }
        XCTAssertEqual(got, expected)
        XCTAssertEqual(numbers, Array(1...expected.count))
    }

    func testOverlongAndNonUTF8LinesNameTheirLine() throws {
        let path = dir.appendingPathComponent("bad.jsonl").path
        try (#"{"text": "ok"}"# + "\n" + #"{"text": ""# + String(repeating: "y", count: 5000) + "\"}\n").write(toFile: path, atomically: true, encoding: .utf8)
        Dataset.maxLineBytes = 1000
        XCTAssertThrowsError(try Dataset.load(file: path, encoder: DatasetEncoder.characters(), options: DatasetOptions())) { e in
            XCTAssertTrue("\(e)".contains("bad.jsonl:2") && "\(e)".contains("longer than 1000 bytes"), "\(e)")
        }
        var bytes = Data(#"{"text": "ok"}"#.utf8) + Data([0x0A]) + Data(#"{"text": "#.utf8) + Data([0xFF, 0xFE]) + Data("\"}\n".utf8)
        bytes += Data()
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Dataset.load(file: path, encoder: DatasetEncoder.characters(), options: DatasetOptions())) { e in
            XCTAssertTrue("\(e)".contains("bad.jsonl:2") && "\(e)".contains("not valid UTF-8"), "\(e)")
        }
    }
}
