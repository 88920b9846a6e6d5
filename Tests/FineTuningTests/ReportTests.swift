// metrics.jsonl round trips (torn last line, NaN, reopen) and the HTML/text reports: one SVG
// per chart, escaping, empty / single-point / non-finite / 20k-point inputs, and that the
// whole page parses as XML.
import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import FineTuning

final class ReportTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("lorikeet-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func fakeRun(steps: Int, validEvery: Int = 50) -> [MetricRecord] {
        var records: [MetricRecord] = []
        for step in 1...steps {
            let t = Double(step) / Double(steps)
            records.append(MetricRecord(step: step, epoch: t, loss: 1 + exp(-4 * t) + 0.05 * sin(Double(step)),
                                        learningRate: 1e-4 * (1 - t), tokensPerSecond: 400 + Double(step % 7),
                                        elapsedSeconds: Double(step), peakRSSBytes: 1 << 30, gradientNorm: 0.5))
            if step % validEvery == 0 {
                records.append(MetricRecord(step: step, kind: MetricRecord.valid, loss: 1.2 + exp(-3 * t),
                                            elapsedSeconds: Double(step)))
            }
        }
        return records
    }

    private let summary = RunSummary(title: "test run", model: "tiny-llama", method: "LoRA",
                                     settings: [.init("LoRA rank", "8")])

    // MARK: - metrics.jsonl

    func testJSONLRoundTripWithSnakeCaseKeysAndNaN() throws {
        let url = directory.appendingPathComponent("metrics.jsonl")
        var records = fakeRun(steps: 5, validEvery: 2)
        records.append(MetricRecord(step: 6, loss: .nan, elapsedSeconds: 6))
        records.append(MetricRecord(step: 7, loss: .infinity, learningRate: nil, elapsedSeconds: 7))
        let log = try MetricsLog(url: url, truncate: true)
        for record in records { try log.append(record) }
        XCTAssertEqual(try MetricsLog.read(from: url), records)

        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, records.count)
        XCTAssertTrue(text.hasSuffix("\n"))
        for key in ["\"learning_rate\"", "\"tokens_per_second\"", "\"elapsed_seconds\"", "\"peak_rss_bytes\"",
                    "\"grad_norm\"", "\"kind\":\"valid\"", "\"loss\":\"nan\""] {
            XCTAssertTrue(text.contains(key), "missing \(key)")
        }
    }

    func testTruncatedLastLineIsSkippedAndCutOnReopen() throws {
        let url = directory.appendingPathComponent("metrics.jsonl")
        let records = fakeRun(steps: 3)
        do {
            let log = try MetricsLog(url: url)
            for record in records { try log.append(record) }
        }
        // A kill in the middle of a write leaves half a line.
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"step\":4,\"kind\":\"tra".utf8))
        try handle.close()
        XCTAssertEqual(try MetricsLog.read(from: url), records)

        // Resuming cuts the torn line off, so the next record starts on its own line.
        let next = MetricRecord(step: 4, loss: 1.5, elapsedSeconds: 4)
        let log = try MetricsLog(url: url)
        try log.append(next)
        XCTAssertEqual(try MetricsLog.read(from: url), records + [next])
    }

    func testBadCompleteLineThrowsWithLineNumber() throws {
        let url = directory.appendingPathComponent("metrics.jsonl")
        let good = String(decoding: try MetricsLog.encoder().encode(MetricRecord(step: 1, loss: 2, elapsedSeconds: 1)),
                          as: UTF8.self)
        try (good + "\nnot json\n" + good + "\n").write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetricsLog.read(from: url)) { error in
            guard case let MetricsLogError.badLine(_, line, _)? = error as? MetricsLogError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(line, 2)
        }
    }

    // MARK: - HTML

    func testPageHasThreeChartsAndParsesAsXML() throws {
        let html = TrainingReport.html(records: fakeRun(steps: 300), summary: summary)
        XCTAssertEqual(svgBlocks(html).count, 3)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for needle in ["train (smoothed)", "valid", "learning rate", "tokens / s", "LoRA rank", "test run"] {
            XCTAssertTrue(html.contains(needle), "missing \(needle)")
        }
        XCTAssertFalse(html.contains("<script"))
        let external = html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
        for needle in ["http", "src=", "href=", "@import", "url("] {
            XCTAssertFalse(external.contains(needle), "page must not load external resources (\(needle))")
        }
        try assertWellFormed(html)
        for svg in svgBlocks(html) { try assertWellFormed(svg) }
    }

    func testEscapesCallerText() throws {
        var s = summary
        s.title = "<script>alert('x')</script> & \"friends\""
        s.model = "<b>model</b>"
        s.settings = [.init("<k>", "a&b")]
        let html = TrainingReport.html(records: fakeRun(steps: 10), summary: s)
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertFalse(html.contains("<b>model"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;friends&quot;"))
        XCTAssertTrue(html.contains("a&amp;b"))
        try assertWellFormed(html)
    }

    func testEmptyRecords() throws {
        let html = TrainingReport.html(records: [], summary: summary)
        XCTAssertEqual(svgBlocks(html).count, 3)
        XCTAssertTrue(html.contains("No finite loss values recorded"))
        XCTAssertTrue(html.contains("Learning rate not recorded"))
        try assertWellFormed(html)
        let text = TrainingReport.textSummary(records: [], summary: summary)
        XCTAssertTrue(text.contains("no validation set"))
    }

    func testSinglePointIsDrawnAsMarker() throws {
        let records = [MetricRecord(step: 1, loss: 2.5, learningRate: 1e-4, tokensPerSecond: 300, elapsedSeconds: 3)]
        let html = TrainingReport.html(records: records, summary: summary)
        XCTAssertEqual(svgBlocks(html).count, 3)
        XCTAssertEqual(svgBlocks(html).filter { $0.contains("<circle") }.count, 3)
        XCTAssertFalse(html.contains("nan"))
        try assertWellFormed(html)
    }

    func testNonFiniteLossesAreSkippedAndNoted() throws {
        var records = fakeRun(steps: 40, validEvery: 10)
        records[5].loss = .nan
        records[6].loss = .infinity
        records.append(MetricRecord(step: 41, kind: MetricRecord.valid, loss: -.infinity, elapsedSeconds: 41))
        let html = TrainingReport.html(records: records, summary: summary)
        XCTAssertTrue(html.contains("2 non-finite training losses were skipped"))
        XCTAssertTrue(html.contains("1 non-finite validation loss was skipped"))
        for svg in svgBlocks(html) {
            XCTAssertFalse(svg.lowercased().contains("nan"))
            XCTAssertFalse(svg.lowercased().contains("inf"))
        }
        try assertWellFormed(html)
        let text = TrainingReport.textSummary(records: records, summary: summary)
        XCTAssertTrue(text.contains("non-finite"))
        XCTAssertFalse(text.contains("final NaN"))
    }

    func testManyPointsAreDownsampled() throws {
        let html = TrainingReport.html(records: fakeRun(steps: 20_000, validEvery: 500), summary: summary)
        XCTAssertLessThan(html.utf8.count, 600_000)
        let lossChart = try XCTUnwrap(svgBlocks(html).first)
        for path in lossChart.components(separatedBy: " d=\"").dropFirst() {
            let d = path.prefix { $0 != "\"" }
            XCTAssertLessThanOrEqual(d.filter { $0 == "L" }.count, LineChart.maxDrawnPoints)
        }
        try assertWellFormed(html)
    }

    func testDownsampleKeepsSpikes() {
        var points = (0..<10_000).map { (x: Double($0), y: 1.0) }
        points[4321].y = 50
        let drawn = LineChart.downsample(points, limit: 1000)
        XCTAssertLessThanOrEqual(drawn.count, 1000)
        XCTAssertTrue(drawn.contains { $0.y == 50 })
        XCTAssertEqual(drawn.map(\.x), drawn.map(\.x).sorted())
    }

    func testTicksAndNumbers() {
        let lr = LineChart.niceScale(0, 2e-4, integer: false)
        XCTAssertEqual(lr.ticks.first, 0)
        XCTAssertEqual(lr.ticks.last!, 2e-4, accuracy: 1e-12)
        XCTAssertEqual(LineChart.tickLabel(1.5e-4, step: 5e-5), "1.5e-4")
        XCTAssertEqual(LineChart.tickLabel(2.4, step: 0.2), "2.4")
        XCTAssertEqual(LineChart.tickLabel(12000, step: 2000), "12,000")
        let one = LineChart.niceScale(7, 7, integer: true)
        XCTAssertLessThan(one.lo, 7)
        XCTAssertGreaterThan(one.hi, 7)
        XCTAssertEqual(ReportFormat.number(2.34567), "2.346")
        XCTAssertEqual(ReportFormat.number(0.012345), "0.01235")
        XCTAssertEqual(ReportFormat.integer(1_234_567), "1,234,567")
        XCTAssertEqual(ReportFormat.duration(754), "12 min 34 s")
        XCTAssertEqual(ReportFormat.bytes(3 << 30), "3.00 GiB")
    }

    func testTextSummary() {
        var s = summary
        s.reportPath = "runs/x/report.html"
        let records = fakeRun(steps: 100)
        let text = TrainingReport.textSummary(records: records, summary: s)
        let filled = s.filled(from: records)
        XCTAssertEqual(filled.steps, 100)
        XCTAssertEqual(filled.bestValidLoss, records.filter { $0.kind == "valid" }.map(\.loss).min())
        XCTAssertTrue(text.contains("runs/x/report.html"))
        XCTAssertTrue(text.contains("best " + ReportFormat.number(filled.bestValidLoss)))
        XCTAssertTrue(text.contains("1.00 GiB"))
        XCTAssertTrue(text.contains("tokens/s"))
        XCTAssertLessThanOrEqual(text.split(separator: "\n").count, 10)
    }

    // MARK: - Helpers

    private func svgBlocks(_ html: String) -> [String] {
        html.components(separatedBy: "<svg").dropFirst().map { "<svg" + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
    }

    private func assertWellFormed(_ xml: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let parser = XMLParser(data: Data(xml.utf8))
        let ok = parser.parse()
        XCTAssertTrue(ok, "not well-formed: \(String(describing: parser.parserError))", file: file, line: line)
    }
}
