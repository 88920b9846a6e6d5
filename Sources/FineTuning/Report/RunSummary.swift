// The headline figures of a finished (or interrupted) run, shown in the report's table and
// the CLI's closing lines. Any figure left nil is derived from the metrics where it can be,
// and shown as "—" where it cannot. Text helpers shared by the HTML and plain-text reports.
import Foundation

/// The headline figures and settings of one fine-tuning run.
public struct RunSummary: Codable, Sendable, Equatable {
    /// One extra setting shown in the summary table, in the order given.
    public struct Setting: Codable, Sendable, Equatable {
        /// The setting's name, e.g. "LoRA rank".
        public var key: String
        /// The setting's value as it should be shown, e.g. "16".
        public var value: String

        /// Creates a setting row.
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The run's name, shown as the page heading.
    public var title: String
    /// The base model (a path or a hub name).
    public var model: String
    /// The fine-tuning method, e.g. "LoRA", "QLoRA (NF4)".
    public var method: String
    /// The training data (a path or a name).
    public var dataset: String?
    /// When the run started.
    public var date: Date?
    /// Optimizer steps taken.
    public var steps: Int?
    /// Epochs completed (fractional).
    public var epochs: Double?
    /// Parameters the optimizer updates.
    public var trainableParameters: Int?
    /// All parameters of the model, frozen ones included.
    public var totalParameters: Int?
    /// Training loss at the last step.
    public var finalTrainLoss: Double?
    /// Validation loss of the last evaluation.
    public var finalValidLoss: Double?
    /// Lowest validation loss seen.
    public var bestValidLoss: Double?
    /// Mean training throughput over the run.
    public var tokensPerSecond: Double?
    /// Highest resident memory of the process.
    public var peakRSSBytes: Int?
    /// Wall-clock duration of the run.
    public var wallSeconds: Double?
    /// Where the adapter or model was written.
    public var outputPath: String?
    /// Where the HTML report was written (printed by `textSummary`).
    public var reportPath: String?
    /// Extra settings (rank, alpha, batch size, ...) shown after the fixed rows, in order.
    public var settings: [Setting]

    /// Creates a summary; everything but the title, model and method is optional.
    public init(title: String, model: String, method: String, dataset: String? = nil,
                date: Date? = nil, steps: Int? = nil, epochs: Double? = nil,
                trainableParameters: Int? = nil, totalParameters: Int? = nil,
                finalTrainLoss: Double? = nil, finalValidLoss: Double? = nil,
                bestValidLoss: Double? = nil, tokensPerSecond: Double? = nil,
                peakRSSBytes: Int? = nil, wallSeconds: Double? = nil, outputPath: String? = nil,
                reportPath: String? = nil, settings: [Setting] = []) {
        self.title = title
        self.model = model
        self.method = method
        self.dataset = dataset
        self.date = date
        self.steps = steps
        self.epochs = epochs
        self.trainableParameters = trainableParameters
        self.totalParameters = totalParameters
        self.finalTrainLoss = finalTrainLoss
        self.finalValidLoss = finalValidLoss
        self.bestValidLoss = bestValidLoss
        self.tokensPerSecond = tokensPerSecond
        self.peakRSSBytes = peakRSSBytes
        self.wallSeconds = wallSeconds
        self.outputPath = outputPath
        self.reportPath = reportPath
        self.settings = settings
    }

    enum CodingKeys: String, CodingKey {
        case title, model, method, dataset, date, steps, epochs, settings
        case trainableParameters = "trainable_parameters"
        case totalParameters = "total_parameters"
        case finalTrainLoss = "final_train_loss"
        case finalValidLoss = "final_valid_loss"
        case bestValidLoss = "best_valid_loss"
        case tokensPerSecond = "tokens_per_second"
        case peakRSSBytes = "peak_rss_bytes"
        case wallSeconds = "wall_seconds"
        case outputPath = "output_path"
        case reportPath = "report_path"
    }

    /// Fills nil figures from the records: last train loss, last and best valid loss, steps,
    /// epochs, mean tokens/s, peak memory and wall time. Non-finite losses are not used.
    public func filled(from records: [MetricRecord]) -> RunSummary {
        var out = self
        let train = records.filter { $0.kind == MetricRecord.train }
        let valid = records.filter { $0.kind == MetricRecord.valid && $0.loss.isFinite }
        out.finalTrainLoss = out.finalTrainLoss ?? train.last(where: { $0.loss.isFinite })?.loss
        out.finalValidLoss = out.finalValidLoss ?? valid.last?.loss
        out.bestValidLoss = out.bestValidLoss ?? valid.map(\.loss).min()
        out.steps = out.steps ?? records.map(\.step).max()
        out.epochs = out.epochs ?? records.compactMap(\.epoch).max()
        let rates = train.compactMap(\.tokensPerSecond).filter { $0.isFinite }
        if out.tokensPerSecond == nil, !rates.isEmpty {
            out.tokensPerSecond = rates.reduce(0, +) / Double(rates.count)
        }
        out.peakRSSBytes = out.peakRSSBytes ?? records.compactMap(\.peakRSSBytes).max()
        out.wallSeconds = out.wallSeconds ?? records.map(\.elapsedSeconds).filter { $0.isFinite }.max()
        return out
    }
}

/// Number, size and duration formatting and HTML escaping for the reports.
enum ReportFormat {
    /// Escapes text for HTML element content and double- or single-quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab/newline are not allowed in XML; drop them.
            case "\u{0}"..."\u{8}", "\u{B}", "\u{C}", "\u{E}"..."\u{1F}": break
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A loss or similar figure with four significant digits: "2.347", "0.01234", "1.2e-05".
    static func number(_ value: Double?) -> String {
        guard let value else { return "—" }
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "∞" : "−∞" }
        let magnitude = abs(value)
        if magnitude == 0 { return "0" }
        if magnitude < 1e-3 || magnitude >= 1e6 { return String(format: "%.3g", value) }
        let decimals = max(0, 3 - Int(floor(log10(magnitude))))
        return String(format: "%.\(decimals)f", value)
    }

    /// A count with thousands separators: "1,234,567".
    static func integer(_ value: Int?) -> String {
        guard let value else { return "—" }
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return value < 0 ? "-" + out : out
    }

    /// A parameter count in short form: "4.19 M", "1.10 B".
    static func parameters(_ value: Int?) -> String {
        guard let value else { return "—" }
        let v = Double(value)
        if v >= 1e9 { return String(format: "%.2f B", v / 1e9) }
        if v >= 1e6 { return String(format: "%.2f M", v / 1e6) }
        if v >= 1e3 { return String(format: "%.1f K", v / 1e3) }
        return String(value)
    }

    /// Binary-unit size like MemoryStats.formatBytes (kept here: FineTuning's report must
    /// not depend on TensorCore for one function).
    static func bytes(_ value: Int?) -> String {
        guard let value else { return "—" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(value)
        var unit = 0
        while v >= 1024, unit < units.count - 1 {
            v /= 1024
            unit += 1
        }
        if unit == 0 { return "\(value) B" }
        let decimals = v < 10 ? 2 : (v < 100 ? 1 : 0)
        return String(format: "%.\(decimals)f", v) + " " + units[unit]
    }

    /// A duration as "42.0 s", "12 min 05 s" or "3 h 07 min".
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "—" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let total = Int(seconds.rounded())
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, (total % 3600) / 60)
    }

    /// A date as "2026-11-22 14:31 UTC".
    static func date(_ date: Date?) -> String {
        guard let date else { return "—" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}
