// metrics.jsonl: one JSON object per line, one line per logged step (train) or evaluation
// (valid). Each line goes to the file in a single write, so a killed run leaves whole lines
// and at most one torn last line, which reading skips and reopening cuts off.
// Non-finite numbers are written as the strings "nan", "inf", "-inf" (JSON has no NaN).
import Foundation

/// One line of a run's `metrics.jsonl`: a training step's or an evaluation's figures.
public struct MetricRecord: Codable, Sendable, Equatable {
    /// The optimizer step the figures belong to (1-based as the trainer counts).
    public var step: Int
    /// Fractional epoch at this step, when the trainer knows the dataset size.
    public var epoch: Double?
    /// "train" for a training step, "valid" for an evaluation on the validation set.
    public var kind: String
    /// Mean token loss; may be NaN or infinite when training diverged.
    public var loss: Double
    /// Learning rate used for this step.
    public var learningRate: Double?
    /// Throughput over the interval that ended at this step.
    public var tokensPerSecond: Double?
    /// Seconds since the run started.
    public var elapsedSeconds: Double
    /// Highest resident memory of the process so far.
    public var peakRSSBytes: Int?
    /// Global gradient norm before clipping.
    public var gradientNorm: Double?

    /// The `kind` of a training-step record.
    public static let train = "train"
    /// The `kind` of a validation record.
    public static let valid = "valid"

    /// Creates a record; only step, kind, loss and elapsed time are required.
    public init(step: Int, epoch: Double? = nil, kind: String = MetricRecord.train, loss: Double,
                learningRate: Double? = nil, tokensPerSecond: Double? = nil, elapsedSeconds: Double,
                peakRSSBytes: Int? = nil, gradientNorm: Double? = nil) {
        self.step = step
        self.epoch = epoch
        self.kind = kind
        self.loss = loss
        self.learningRate = learningRate
        self.tokensPerSecond = tokensPerSecond
        self.elapsedSeconds = elapsedSeconds
        self.peakRSSBytes = peakRSSBytes
        self.gradientNorm = gradientNorm
    }

    enum CodingKeys: String, CodingKey {
        case step, epoch, kind, loss
        case learningRate = "learning_rate"
        case tokensPerSecond = "tokens_per_second"
        case elapsedSeconds = "elapsed_seconds"
        case peakRSSBytes = "peak_rss_bytes"
        case gradientNorm = "grad_norm"
    }

    /// Equal when every field is equal, with NaN equal to NaN (a logged NaN round-trips).
    public static func == (lhs: MetricRecord, rhs: MetricRecord) -> Bool {
        func same(_ a: Double?, _ b: Double?) -> Bool {
            switch (a, b) {
            case (nil, nil): true
            case let (x?, y?): x == y || (x.isNaN && y.isNaN)
            default: false
            }
        }
        return lhs.step == rhs.step && same(lhs.epoch, rhs.epoch) && lhs.kind == rhs.kind
            && same(lhs.loss, rhs.loss) && same(lhs.learningRate, rhs.learningRate)
            && same(lhs.tokensPerSecond, rhs.tokensPerSecond)
            && same(lhs.elapsedSeconds, rhs.elapsedSeconds) && lhs.peakRSSBytes == rhs.peakRSSBytes
            && same(lhs.gradientNorm, rhs.gradientNorm)
    }
}

/// A failure to write or read a metrics file.
public enum MetricsLogError: Error, Equatable, CustomStringConvertible {
    /// The file could not be created, opened or written.
    case io(path: String, reason: String)
    /// A complete (newline-terminated) line is not a valid record.
    case badLine(path: String, line: Int, reason: String)

    /// A one-line message naming the file and, for a bad record, the line.
    public var description: String {
        switch self {
        case let .io(path, reason): "\(path): \(reason)"
        case let .badLine(path, line, reason): "\(path):\(line): not a metrics record (\(reason))"
        }
    }
}

/// Appends `MetricRecord`s to a JSONL file and reads them back.
///
/// Appending is safe from several threads; each record is one `write` of a whole line.
public final class MetricsLog: @unchecked Sendable {
    /// The file the records go to.
    public let url: URL
    private let handle: FileHandle
    private let lock = NSLock()

    /// Opens `url` for appending, creating it (and its folder) if needed.
    ///
    /// With `truncate` the file starts empty; otherwise existing records are kept and a torn
    /// last line left by a killed run is cut off, so new lines start on a line of their own.
    public init(url: URL, truncate: Bool = false) throws {
        self.url = url
        let fm = FileManager.default
        let path = url.path
        do {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if truncate || !fm.fileExists(atPath: path) {
                guard fm.createFile(atPath: path, contents: Data()) else {
                    throw MetricsLogError.io(path: path, reason: "cannot create file")
                }
            }
            handle = try FileHandle(forUpdating: url)
            let data = try handle.readToEnd() ?? Data()
            if let last = data.last, last != UInt8(ascii: "\n") {
                let keep = (data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
                try handle.truncate(atOffset: UInt64(keep))
            }
            try handle.seekToEnd()
        } catch let error as MetricsLogError {
            throw error
        } catch {
            throw MetricsLogError.io(path: path, reason: "\(error)")
        }
    }

    deinit {
        try? handle.close()
    }

    /// The file contents for `records`: one JSON line each.
    public static func lines(_ records: [MetricRecord]) throws -> Data {
        var out = Data()
        for r in records {
            do { out.append(try encoder().encode(r)) } catch {
                throw MetricsLogError.io(path: "metrics", reason: "cannot encode record: \(error)")
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Writes one record as one line; it is in the file (the OS's cache) when this returns.
    public func append(_ record: MetricRecord) throws {
        var line: Data
        do {
            line = try Self.encoder().encode(record)
        } catch {
            throw MetricsLogError.io(path: url.path, reason: "cannot encode record: \(error)")
        }
        line.append(UInt8(ascii: "\n"))
        lock.lock()
        defer { lock.unlock() }
        do {
            try handle.write(contentsOf: line)
        } catch {
            throw MetricsLogError.io(path: url.path, reason: "write failed: \(error)")
        }
    }

    /// Forces written records to the disk (fsync); call at checkpoints, not every step.
    public func synchronize() throws {
        lock.lock()
        defer { lock.unlock() }
        do {
            try handle.synchronize()
        } catch {
            throw MetricsLogError.io(path: url.path, reason: "sync failed: \(error)")
        }
    }

    /// Reads every record of a metrics file in order.
    ///
    /// A last line without its newline is a write cut short by a kill: it is kept when it
    /// parses and skipped when it does not. A bad complete line throws `.badLine`.
    public static func read(from url: URL) throws -> [MetricRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw MetricsLogError.io(path: url.path, reason: "cannot read: \(error)")
        }
        let decoder = decoder()
        let newline = UInt8(ascii: "\n")
        var records: [MetricRecord] = []
        var start = data.startIndex
        var lineNumber = 0
        while start < data.endIndex {
            lineNumber += 1
            let end = data[start...].firstIndex(of: newline)
            let line = data[start..<(end ?? data.endIndex)]
            start = end.map { $0 + 1 } ?? data.endIndex
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                records.append(try decoder.decode(MetricRecord.self, from: Data(line)))
            } catch {
                if end == nil { break }  // torn last line
                throw MetricsLogError.badLine(path: url.path, line: lineNumber, reason: "\(error)")
            }
        }
        return records
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy =
            .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy =
            .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}
