// Inline SVG line charts for the training report: nice 1-2-5 ticks, a legend, and min/max
// bucketing so a run of 100k steps draws as ~1k vertices without hiding loss spikes.
// Only finite points reach this file; the report counts and notes what it dropped.
import Foundation

/// One line of a chart. Points must be finite and sorted by x.
struct ChartSeries {
    var name: String
    var color: String
    var points: [(x: Double, y: Double)]
    var strokeWidth: Double = 1.5
    var opacity: Double = 1
    var markers: Bool = false
    var dashed: Bool = false
}

/// A line chart of one or more series against a shared x axis, rendered as SVG text.
struct LineChart {
    var xLabel: String
    var yLabel: String
    var series: [ChartSeries]
    /// Shown in the plot area when no series has a point.
    var emptyMessage: String
    /// Whether the y range is stretched to include 0 (rates, throughput; not losses).
    var includeZero = false
    var width = 960.0
    var height = 320.0

    /// Above this many points a series is bucketed (two vertices per bucket).
    static let maxDrawnPoints = 1200

    private var left: Double { 72 }
    private var right: Double { width - 20 }
    private var top: Double { 40 }
    private var bottom: Double { height - 48 }

    func svg() -> String {
        let w = Self.fmt(width), h = Self.fmt(height)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(w) \(h)\""
        out += " width=\"100%\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\""
        out += " aria-label=\"\(ReportFormat.escape(yLabel)) vs \(ReportFormat.escape(xLabel))\">\n"
        let all = series.flatMap(\.points)
        guard !all.isEmpty else {
            out += rect(left, top, right - left, bottom - top, cls: "plot")
            out += text(ReportFormat.escape(emptyMessage), x: (left + right) / 2, y: (top + bottom) / 2,
                        cls: "empty", anchor: "middle")
            return out + "</svg>"
        }
        var xs = Self.niceScale(all.map(\.x).min()!, all.map(\.x).max()!, integer: true)
        var yLo = all.map(\.y).min()!, yHi = all.map(\.y).max()!
        if includeZero { yLo = min(yLo, 0); yHi = max(yHi, 0) }
        let ys = Self.niceScale(yLo, yHi, integer: false)
        if xs.ticks.count > 12 { xs = Self.niceScale(xs.lo, xs.hi, integer: true, target: 4) }
        let px = { (x: Double) in self.left + (x - xs.lo) / (xs.hi - xs.lo) * (self.right - self.left) }
        let py = { (y: Double) in self.bottom - (y - ys.lo) / (ys.hi - ys.lo) * (self.bottom - self.top) }

        out += rect(left, top, right - left, bottom - top, cls: "plot")
        for t in ys.ticks {
            let y = Self.fmt(py(t))
            out += "<line class=\"grid\" x1=\"\(Self.fmt(left))\" y1=\"\(y)\" x2=\"\(Self.fmt(right))\" y2=\"\(y)\"/>\n"
            out += text(Self.tickLabel(t, step: ys.step), x: left - 8, y: py(t) + 4, cls: "tick", anchor: "end")
        }
        for t in xs.ticks {
            let x = Self.fmt(px(t))
            out += "<line class=\"grid\" x1=\"\(x)\" y1=\"\(Self.fmt(top))\" x2=\"\(x)\" y2=\"\(Self.fmt(bottom))\"/>\n"
            out += text(Self.tickLabel(t, step: xs.step), x: px(t), y: bottom + 18, cls: "tick", anchor: "middle")
        }
        out += "<line class=\"axis\" x1=\"\(Self.fmt(left))\" y1=\"\(Self.fmt(bottom))\" x2=\"\(Self.fmt(right))\" y2=\"\(Self.fmt(bottom))\"/>\n"
        out += "<line class=\"axis\" x1=\"\(Self.fmt(left))\" y1=\"\(Self.fmt(top))\" x2=\"\(Self.fmt(left))\" y2=\"\(Self.fmt(bottom))\"/>\n"
        out += text(ReportFormat.escape(xLabel), x: (left + right) / 2, y: height - 10, cls: "label", anchor: "middle")
        out += "<text class=\"label\" text-anchor=\"middle\" transform=\"translate(16 \(Self.fmt((top + bottom) / 2))) rotate(-90)\">"
        out += ReportFormat.escape(yLabel) + "</text>\n"

        for s in series where !s.points.isEmpty {
            let drawn = Self.downsample(s.points, limit: Self.maxDrawnPoints)
            let style = "stroke=\"\(s.color)\" stroke-width=\"\(Self.fmt(s.strokeWidth))\""
                + (s.opacity < 1 ? " stroke-opacity=\"\(Self.fmt(s.opacity))\"" : "")
                + (s.dashed ? " stroke-dasharray=\"6 4\"" : "")
            if drawn.count > 1 {
                var d = ""
                for (i, p) in drawn.enumerated() {
                    d += (i == 0 ? "M" : " L") + Self.fmt(px(p.x)) + "," + Self.fmt(py(p.y))
                }
                out += "<path class=\"series\" fill=\"none\" stroke-linejoin=\"round\" \(style) d=\"\(d)\"/>\n"
            }
            if s.markers || drawn.count == 1 {
                for p in drawn {
                    out += "<circle cx=\"\(Self.fmt(px(p.x)))\" cy=\"\(Self.fmt(py(p.y)))\" r=\"3\" fill=\"\(s.color)\"/>\n"
                }
            }
        }
        out += legend()
        return out + "</svg>"
    }

    /// Legend entries in a row above the plot area, left-aligned.
    private func legend() -> String {
        var out = ""
        var x = left
        for s in series where !s.points.isEmpty {
            let y = Self.fmt(top - 16)
            out += "<line x1=\"\(Self.fmt(x))\" y1=\"\(y)\" x2=\"\(Self.fmt(x + 22))\" y2=\"\(y)\" stroke=\"\(s.color)\""
            out += " stroke-width=\"\(Self.fmt(max(2, s.strokeWidth)))\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "")
            out += (s.opacity < 1 ? " stroke-opacity=\"\(Self.fmt(max(0.5, s.opacity)))\"" : "") + "/>\n"
            out += text(ReportFormat.escape(s.name), x: x + 28, y: top - 12, cls: "legend", anchor: "start")
            // About 7 px per character at the legend's 12 px font.
            x += 28 + Double(s.name.count) * 7 + 24
        }
        return out
    }

    private func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, cls: String) -> String {
        "<rect class=\"\(cls)\" x=\"\(Self.fmt(x))\" y=\"\(Self.fmt(y))\" width=\"\(Self.fmt(w))\" height=\"\(Self.fmt(h))\"/>\n"
    }

    /// `escaped` must already be HTML-escaped.
    private func text(_ escaped: String, x: Double, y: Double, cls: String, anchor: String) -> String {
        "<text class=\"\(cls)\" x=\"\(Self.fmt(x))\" y=\"\(Self.fmt(y))\" text-anchor=\"\(anchor)\">\(escaped)</text>\n"
    }

    // MARK: - Scales and sampling

    /// An axis range widened to whole tick steps, with the ticks inside it.
    struct Scale {
        var lo: Double
        var hi: Double
        var step: Double
        var ticks: [Double]
    }

    /// 1-2-5 ticks (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990).
    static func niceScale(_ lo: Double, _ hi: Double, integer: Bool, target: Int = 6) -> Scale {
        var lo = lo, hi = hi
        if hi - lo <= abs(hi) * 1e-12 || hi == lo {
            // One value: open a window around it so the point sits mid-chart.
            let pad = integer ? 1 : (lo == 0 ? 1 : abs(lo) * 0.1)
            lo -= pad
            hi += pad
        }
        let raw = (hi - lo) / Double(target)
        let magnitude = pow(10, floor(log10(raw)))
        let residual = raw / magnitude
        var step = (residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10) * magnitude
        if integer { step = max(1, step.rounded()) }
        let first = floor(lo / step + 1e-9) * step
        let last = ceil(hi / step - 1e-9) * step
        var ticks: [Double] = []
        var i = 0.0
        while first + i * step <= last + step * 1e-6, ticks.count < 50 {
            let t = first + i * step
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            i += 1
        }
        return Scale(lo: first, hi: max(last, first + step), step: step, ticks: ticks)
    }

    /// A tick label with as many decimals as the step needs; scientific for tiny or huge.
    static func tickLabel(_ value: Double, step: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = max(abs(value), step)
        if magnitude < 1e-3 || magnitude >= 1e7 {
            let exponent = Int(floor(log10(abs(value))))
            let mantissa = value / pow(10, Double(exponent))
            let decimals = min(3, max(0, exponent - Int(floor(log10(step)))))
            var m = String(format: "%.\(decimals)f", mantissa)
            if m.contains(".") {
                while m.hasSuffix("0") { m.removeLast() }
                if m.hasSuffix(".") { m.removeLast() }
            }
            return "\(m)e\(exponent)"
        }
        let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
        if decimals == 0 { return ReportFormat.integer(Int(value.rounded())) }
        return String(format: "%.\(decimals)f", value)
    }

    /// Keeps at most about `limit` points: splits the series into `limit / 2` buckets by
    /// index and keeps each bucket's lowest and highest point, in x order, so spikes survive.
    static func downsample(_ points: [(x: Double, y: Double)], limit: Int) -> [(x: Double, y: Double)] {
        guard points.count > limit, limit >= 4 else { return points }
        let buckets = limit / 2
        var out: [(x: Double, y: Double)] = []
        out.reserveCapacity(limit)
        for b in 0..<buckets {
            let start = b * points.count / buckets
            let end = (b + 1) * points.count / buckets
            guard start < end else { continue }
            var lo = start, hi = start
            for i in start..<end {
                if points[i].y < points[lo].y { lo = i }
                if points[i].y > points[hi].y { hi = i }
            }
            if lo == hi {
                out.append(points[lo])
            } else {
                out.append(points[min(lo, hi)])
                out.append(points[max(lo, hi)])
            }
        }
        return out
    }

    /// Centered moving average over `radius` points each side, clipped at the ends. Unlike
    /// an EMA it does not lag, so the smoothed curve sits on the raw one while loss falls.
    static func smoothed(_ points: [(x: Double, y: Double)], radius: Int) -> [(x: Double, y: Double)] {
        var prefix = [0.0]
        prefix.reserveCapacity(points.count + 1)
        for p in points { prefix.append(prefix.last! + p.y) }
        return points.indices.map { i in
            // A one-sided window at the ends: a shrinking one would end on a single noisy point.
            let lo = max(0, i - radius), hi = min(points.count - 1, i + radius)
            return (points[i].x, (prefix[hi + 1] - prefix[lo]) / Double(hi - lo + 1))
        }
    }

    /// Coordinates with one decimal; SVG needs no more at this size.
    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        if r == r.rounded() { return String(Int(r)) }
        return String(format: "%.1f", r)
    }
}
