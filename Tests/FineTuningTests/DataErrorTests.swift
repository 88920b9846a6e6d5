// Bad input is a DatasetError naming file:line and what was expected: malformed JSON, unknown
// formats, missing or ill-typed keys, empty conversations, unknown roles, templates whose
// prefixes do not tokenize stably, missing files and folders.
import XCTest
import ChatTemplates
@testable import FineTuning

final class DataErrorTests: XCTestCase {
    /// Loads two good lines followed by `bad` and returns the error (which must sit on line 3).
    private func error(_ bad: String, encoder: DatasetEncoder = .characters(),
                       file: StaticString = #filePath, line: UInt = #line) -> DatasetError? {
        let text = "{\"text\": \"ok\"}\n{\"prompt\": \"p\", \"completion\": \"c\"}\n\(bad)\n"
        do {
            _ = try Dataset(jsonl: text, source: "data/train.jsonl", encoder: encoder, options: DatasetOptions())
            XCTFail("expected an error for \(bad)", file: file, line: line)
            return nil
        } catch let e as DatasetError {
            XCTAssertEqual(e.location, DatasetLocation(file: "data/train.jsonl", line: 3), file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix("data/train.jsonl:3: "), e.description, file: file, line: line)
            return e
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testMalformedLinesNameFileLineAndWhatWasExpected() {
        guard case .invalidJSON? = error("{\"text\": \"unterminated}") else { return XCTFail() }
        guard case .invalidJSON? = error("[1, 2]") else { return XCTFail() }
        guard case .unknownFormat(_, let keys)? = error("{\"body\": \"x\", \"title\": \"y\"}") else { return XCTFail() }
        XCTAssertEqual(keys, ["body", "title"])
        XCTAssertEqual(error("{\"prompt\": \"no completion\"}"),
                       .missingKey(DatasetLocation(file: "data/train.jsonl", line: 3), key: "completion", format: "prompt/completion"))
        XCTAssertEqual(error("{\"text\": 42}"),
                       .invalidValue(DatasetLocation(file: "data/train.jsonl", line: 3), key: "text", expected: "a string"))
        guard case .invalidValue(_, "prompt", _)? = error("{\"prompt\": \"p\", \"completion\": 3}") else { return XCTFail() }
        guard case .missingKey(_, "output", _)? = error("{\"instruction\": \"do\"}") else { return XCTFail() }
        guard case .invalidValue(_, "input", _)? = error("{\"instruction\": \"do\", \"input\": 1, \"output\": \"x\"}") else {
            return XCTFail()
        }
    }

    func testBadConversationsAreRejected() {
        guard case .invalidValue(_, "messages", _)? = error("{\"messages\": []}") else { return XCTFail() }
        guard case .invalidValue(_, "messages", _)? = error("{\"messages\": \"hi\"}") else { return XCTFail() }
        let unknown = error("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"robot\", \"content\": \"b\"}]}")
        XCTAssertEqual(unknown, .unknownRole(DatasetLocation(file: "data/train.jsonl", line: 3), index: 1, role: "robot"))
        XCTAssertTrue(unknown?.description.contains("\"robot\"") ?? false)
        guard case .missingKey(_, "role", "messages[0]")? = error("{\"messages\": [{\"content\": \"a\"}]}") else { return XCTFail() }
        guard case .invalidValue(_, "messages[0].content", _)? = error("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}") else {
            return XCTFail()
        }
        guard case .missingKey(_, "content", "messages[0]")? = error("{\"messages\": [{\"role\": \"user\"}]}") else { return XCTFail() }
    }

    func testTemplateFailuresAndUnstablePrefixesAreReported() throws {
        // Renders only the last role: a prefix of the conversation is not a prefix of its render,
        // and emptying the reply changes nothing, so the turn cannot be found either way.
        let lastOnly = try ChatTemplate("{% for m in messages %}{% if loop.last %}{{ m['role'] }}{% endif %}{% endfor %}")
        let unstable = DatasetEncoder(tokenizer: DataCharTokenizer(), chatTemplate: lastOnly, bosToken: "", eosToken: "</s>")
        let chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"U1\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}"
        guard case .unstablePrefix(_, 1, _)? = error(chat, encoder: unstable) else { return XCTFail() }

        let raising = try ChatTemplate("{{ raise_exception('roles must alternate') }}")
        let failing = DatasetEncoder(tokenizer: DataCharTokenizer(), chatTemplate: raising, bosToken: "", eosToken: "</s>")
        guard case .template(_, let detail)? = error(chat, encoder: failing) else { return XCTFail() }
        XCTAssertTrue(detail.contains("roles must alternate"), detail)
    }

    func testFixtureFileErrorNamesTheRealPathAndLine() {
        let path = DataTestSupport.fixture("bad_line.jsonl")
        XCTAssertThrowsError(try Dataset.load(file: path, encoder: .characters(), options: DatasetOptions())) { e in
            XCTAssertEqual(e as? DatasetError,
                           .missingKey(DatasetLocation(file: path, line: 3), key: "completion", format: "prompt/completion"))
            XCTAssertTrue("\(e)".hasPrefix("\(path):3: "), "\(e)")
        }
    }

    func testMissingFilesFoldersAndBadOptions() throws {
        XCTAssertThrowsError(try DatasetFiles(path: "/nonexistent/data")) { e in
            guard case .notFound? = e as? DatasetError else { return XCTFail("\(e)") }
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try DatasetFiles(path: folder.path)) { e in
            XCTAssertTrue("\(e)".contains("train.jsonl"), "\(e)")
        }
        try Data("\n  \n".utf8).write(to: folder.appendingPathComponent("train.jsonl"))
        XCTAssertThrowsError(try Dataset.load(file: folder.appendingPathComponent("train.jsonl").path,
                                              encoder: .characters(), options: DatasetOptions())) { e in
            guard case .empty? = e as? DatasetError else { return XCTFail("\(e)") }
        }
        let data = try Dataset(examples: [DataTestSupport.example(length: 3)], options: DatasetOptions())
        XCTAssertThrowsError(try BatchIterator(dataset: data, batchSize: 0))
        XCTAssertThrowsError(try Dataset(examples: [], options: DatasetOptions(maxSequenceLength: 1)))
    }
}
