// String+Python: Python's str methods as templates use them (strip, split, replace, title,
// capitalize), working on Unicode scalars as Python does, and `strftime` for strftime_now.

import Foundation

extension Unicode.Scalar {
    /// Python's str.isspace for one character, which strip(), split() and jinja's trim use:
    /// Unicode White_Space plus U+001C…U+001F (bidi classes B and S; Python counts them, Unicode doesn't).
    var isPythonSpace: Bool { properties.isWhitespace || (0x1C...0x1F).contains(value) }
}

extension String {
    /// str.strip/lstrip/rstrip: whitespace by default, else any scalar in `chars`.
    func pythonStrip(_ chars: String?, leading: Bool, trailing: Bool) -> String {
        let scalars = Array(unicodeScalars)
        let set = chars.map { Set($0.unicodeScalars) }
        func strip(_ s: Unicode.Scalar) -> Bool { set.map { $0.contains(s) } ?? s.isPythonSpace }
        var lo = 0, hi = scalars.count
        if leading { while lo < hi, strip(scalars[lo]) { lo += 1 } }
        if trailing { while hi > lo, strip(scalars[hi - 1]) { hi -= 1 } }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[lo..<hi])
        return String(out)
    }

    /// str.split / str.rsplit: on runs of whitespace when `separator` is nil, else exactly.
    func pythonSplit(_ separator: String?, maxSplit: Int, fromRight: Bool) -> [String] {
        guard let separator, !separator.isEmpty else {
            let words = unicodeScalars.split(whereSeparator: \.isPythonSpace).map { String(String.UnicodeScalarView($0)) }
            guard maxSplit >= 0, words.count > maxSplit + 1 else { return words }
            // Rare: maxsplit on whitespace keeps the remainder unsplit (approximated by re-joining).
            if fromRight {
                return [words.dropLast(maxSplit).joined(separator: " ")] + words.suffix(maxSplit)
            }
            return Array(words.prefix(maxSplit)) + [words.dropFirst(maxSplit).joined(separator: " ")]
        }
        var parts = components(separatedBy: separator)
        if maxSplit >= 0, parts.count > maxSplit + 1 {
            if fromRight {
                let head = parts[0..<(parts.count - maxSplit)].joined(separator: separator)
                parts = [head] + parts.suffix(maxSplit)
            } else {
                let tail = parts[maxSplit...].joined(separator: separator)
                parts = Array(parts.prefix(maxSplit)) + [tail]
            }
        }
        return parts
    }

    /// str.replace(old, new[, count]).
    func pythonReplace(_ old: String, _ new: String, count: Int?) -> String {
        guard let count, count >= 0 else {
            if old.isEmpty { return new + unicodeScalars.map { String($0) + new }.joined() }
            return replacingOccurrences(of: old, with: new)
        }
        var parts = components(separatedBy: old)
        guard parts.count > count + 1 else { return parts.joined(separator: new) }
        let tail = parts[count...].joined(separator: old)
        parts = Array(parts.prefix(count)) + [tail]
        return parts.joined(separator: new)
    }

    /// str.capitalize: first character upper, the rest lower.
    var pythonCapitalized: String {
        guard let first = unicodeScalars.first else { return self }
        return String(first).uppercased() + String(unicodeScalars.dropFirst()).lowercased()
    }

    /// str.title: each run of letters starts upper, continues lower.
    var pythonTitle: String {
        var out = ""
        var previousIsLetter = false
        for scalar in unicodeScalars {
            let isLetter = scalar.properties.isAlphabetic
            out += isLetter ? (previousIsLetter ? String(scalar).lowercased() : String(scalar).uppercased()) : String(scalar)
            previousIsLetter = isLetter
        }
        return out
    }
}

/// C/Python `strftime` for the directives chat templates use, in the local time zone.
enum Strftime {
    private static let months = ["January", "February", "March", "April", "May", "June", "July",
                                 "August", "September", "October", "November", "December"]
    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    static func format(_ format: String, date: Date, timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
        let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0, weekday = (c.weekday ?? 1) - 1
        var out = ""
        var iterator = format.makeIterator()
        while let ch = iterator.next() {
            guard ch == "%", var d = iterator.next() else { out.append(ch); continue }
            var unpadded = false  // glibc's "%-d": no leading zero
            if d == "-", let next = iterator.next() {
                unpadded = true
                d = next
            }
            func pad(_ n: Int, _ width: Int = 2) -> String {
                let s = String(n)
                return unpadded ? s : String(repeating: "0", count: max(0, width - s.count)) + s
            }
            switch d {
            case "d": out += pad(day)
            case "e": out += (day < 10 ? " " : "") + String(day)
            case "m": out += pad(month)
            case "Y": out += String(year)
            case "y": out += pad(year % 100)
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "B": out += months[month - 1]
            case "a": out += String(weekdays[weekday].prefix(3))
            case "A": out += weekdays[weekday]
            case "H": out += pad(hour)
            case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "M": out += pad(minute)
            case "S": out += pad(second)
            case "j": out += pad(calendar.ordinality(of: .day, in: .year, for: date) ?? 1, 3)
            case "F": out += "\(year)-\(pad(month))-\(pad(day))"
            case "%": out += "%"
            default: out += "%" + String(d)
            }
        }
        return out
    }
}
