// The pre-tokenizer regexes of GPT-2 / SmolLM2, Llama 3, Qwen2 and o200k (GPT-4o, Phi-4-mini), as
// hand-written matchers over Unicode scalars. Each reproduces Oniguruma's leftmost-first alternation
// and backtracking (what `tokenizers` runs) for its one pattern: \p{L}, \p{Lu}, \p{M}, \p{N}… are
// general categories, \s is the White_Space property.
// Other patterns are not supported; the loader rejects them by name.

/// Scalar classes the patterns test: bit flags over one byte.
enum ScalarClass {
    static let letter: UInt8 = 1      // \p{L}
    static let number: UInt8 = 2      // \p{N}
    static let space: UInt8 = 4       // \s
    static let newline: UInt8 = 8     // [\r\n]
    static let upper: UInt8 = 16      // \p{Lu}, \p{Lt} (with `letter`)
    static let lower: UInt8 = 32      // \p{Ll} (with `letter`)
    static let mark: UInt8 = 64       // \p{M}

    private static let ascii: [UInt8] = (0..<128).map { v in
        classifySlow(Unicode.Scalar(UInt8(v)))
    }

    /// The class bits of one scalar.
    @inline(__always)
    static func of(_ s: Unicode.Scalar) -> UInt8 {
        s.value < 128 ? ascii[Int(s.value)] : classifySlow(s)
    }

    private static func classifySlow(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        var c: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .titlecaseLetter:
            c = letter | upper
        case .lowercaseLetter:
            c = letter | lower
        case .modifierLetter, .otherLetter:
            c = letter
        case .nonspacingMark, .spacingMark, .enclosingMark:
            c = mark
        case .decimalNumber, .letterNumber, .otherNumber:
            c = number
        default:
            break
        }
        if p.isWhitespace { c |= space }
        if s == "\r" || s == "\n" { c |= newline }
        return c
    }
}

/// A supported pre-tokenizer split regex (behaviour "Isolated": matches and gaps become pieces).
enum SplitPattern: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` (GPT-2, SmolLM2).
    case gpt2
    /// Llama 3: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`, newline runs.
    case llama3
    /// Qwen2: as Llama 3 but single digits, `\p{N}`.
    case qwen2
    /// o200k (GPT-4o, Phi-4-mini): words split at case changes with contractions attached,
    /// `\p{N}{1,3}`, punctuation runs that take trailing `[\r\n/]`.
    case o200k

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let o200kRegex = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pattern whose regex source is exactly `regex`, or nil.
    init?(regex: String) {
        switch regex {
        case Self.gpt2Regex: self = .gpt2
        case Self.llama3Regex: self = .llama3
        case Self.qwen2Regex: self = .qwen2
        case Self.o200kRegex: self = .o200k
        default: return nil
        }
    }

    /// Appends the end index of every piece of `s` (pieces are contiguous and cover `s`).
    func split(_ s: [Unicode.Scalar], classes c: [UInt8], ends: inout [Int]) {
        var i = 0
        let n = s.count
        while i < n {
            let end: Int
            switch self {
            case .gpt2: end = matchGPT2(s, c, at: i)
            case .llama3: end = matchLlama3(s, c, at: i, maxDigits: 3)
            case .qwen2: end = matchLlama3(s, c, at: i, maxDigits: 1)
            case .o200k: end = matchO200k(s, c, at: i)
            }
            precondition(end > i, "split pattern matched nothing")
            ends.append(end)
            i = end
        }
    }

    private static let other: UInt8 = 0

    /// Length of a contraction `'s|'t|'re|'ve|'m|'ll|'d` at `i` (which holds "'"), or 0.
    private func contraction(_ s: [Unicode.Scalar], at i: Int, caseInsensitive: Bool) -> Int {
        let n = s.count
        guard i + 1 < n else { return 0 }
        func lower(_ x: Unicode.Scalar) -> Unicode.Scalar {
            guard caseInsensitive else { return x }
            if x == "\u{17F}" { return "s" }  // LATIN SMALL LETTER LONG S folds to "s"
            if x.value >= 65 && x.value <= 90 { return Unicode.Scalar(x.value + 32)! }
            return x
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        guard i + 2 < n else { return 0 }
        let b = lower(s[i + 2])
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return 0
    }

    /// End of the whitespace run starting at `i`.
    @inline(__always)
    private func spaceRunEnd(_ c: [UInt8], from i: Int) -> Int {
        var j = i
        while j < c.count && c[j] & ScalarClass.space != 0 { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar `i`: the run, less its last scalar when a non-space follows.
    @inline(__always)
    private func trailingSpace(_ c: [UInt8], at i: Int) -> Int {
        let q = spaceRunEnd(c, from: i)
        if q == c.count { return q }
        return q - 1 > i ? q - 1 : q
    }

    /// `[^\s\p{L}\p{N}]`: neither space, letter nor number.
    @inline(__always)
    private func isOther(_ x: UInt8) -> Bool { x & (ScalarClass.space | ScalarClass.letter | ScalarClass.number) == 0 }

    private func run(_ c: [UInt8], from i: Int, while test: (UInt8) -> Bool) -> Int {
        var j = i
        while j < c.count && test(c[j]) { j += 1 }
        return j
    }

    private func matchGPT2(_ s: [Unicode.Scalar], _ c: [UInt8], at i: Int) -> Int {
        let n = s.count
        let x = s[i]
        if x == "'" {
            let k = contraction(s, at: i, caseInsensitive: false)
            if k > 0 { return i + k }
        }
        let spaceLead = x == " " && i + 1 < n
        // ` ?\p{L}+`
        if c[i] & ScalarClass.letter != 0 { return run(c, from: i) { $0 & ScalarClass.letter != 0 } }
        if spaceLead && c[i + 1] & ScalarClass.letter != 0 { return run(c, from: i + 1) { $0 & ScalarClass.letter != 0 } }
        // ` ?\p{N}+`
        if c[i] & ScalarClass.number != 0 { return run(c, from: i) { $0 & ScalarClass.number != 0 } }
        if spaceLead && c[i + 1] & ScalarClass.number != 0 { return run(c, from: i + 1) { $0 & ScalarClass.number != 0 } }
        // ` ?[^\s\p{L}\p{N}]+`
        if isOther(c[i]) { return run(c, from: i) { isOther($0) } }
        if spaceLead && isOther(c[i + 1]) { return run(c, from: i + 1) { isOther($0) } }
        // `\s+(?!\S)|\s+`
        return trailingSpace(c, at: i)
    }

    private func matchLlama3(_ s: [Unicode.Scalar], _ c: [UInt8], at i: Int, maxDigits: Int) -> Int {
        let n = s.count
        let x = s[i]
        let ci = c[i]
        if x == "'" {
            let k = contraction(s, at: i, caseInsensitive: true)
            if k > 0 { return i + k }
        }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if ci & ScalarClass.letter != 0 { return run(c, from: i) { $0 & ScalarClass.letter != 0 } }
        if ci & (ScalarClass.newline | ScalarClass.number) == 0, i + 1 < n, c[i + 1] & ScalarClass.letter != 0 {
            return run(c, from: i + 1) { $0 & ScalarClass.letter != 0 }
        }
        // `\p{N}{1,maxDigits}`
        if ci & ScalarClass.number != 0 {
            var j = i + 1
            while j < n && j - i < maxDigits && c[j] & ScalarClass.number != 0 { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var start = -1
        if isOther(ci) { start = i } else if x == " ", i + 1 < n, isOther(c[i + 1]) { start = i + 1 }
        if start >= 0 {
            let j = run(c, from: start) { isOther($0) }
            return run(c, from: j) { $0 & ScalarClass.newline != 0 }
        }
        // `\s*[\r\n]+`: up to and including the last newline of the whitespace run.
        let q = spaceRunEnd(c, from: i)
        var k = q - 1
        while k >= i && c[k] & ScalarClass.newline == 0 { k -= 1 }
        if k >= i { return k + 1 }
        // `\s+(?!\S)|\s+`
        return trailingSpace(c, at: i)
    }

    // o200k's classes: U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
    // (modifier and other letters and marks are in both), P = [^\r\n\p{L}\p{N}].
    @inline(__always) private func isU(_ x: UInt8) -> Bool {
        x & ScalarClass.mark != 0 || x & (ScalarClass.letter | ScalarClass.lower) == ScalarClass.letter
    }
    @inline(__always) private func isW(_ x: UInt8) -> Bool {
        x & ScalarClass.mark != 0 || x & (ScalarClass.letter | ScalarClass.upper) == ScalarClass.letter
    }
    @inline(__always) private func isP(_ x: UInt8) -> Bool {
        x & (ScalarClass.newline | ScalarClass.letter | ScalarClass.number) == 0
    }

    /// End of `U*W+` from `p`, or nil. Greedy `U*` then backtracking: `W+` starts at the first W
    /// scalar at or after the U run's end, else at the last W scalar inside the run (and ends right
    /// after it, since the scalars after it up to a non-W are U only).
    private func upperThenLower(_ c: [UInt8], from p: Int) -> Int? {
        let q = run(c, from: p) { isU($0) }
        if q < c.count && isW(c[q]) { return run(c, from: q) { isW($0) } }
        var k = q - 1
        while k >= p && !isW(c[k]) { k -= 1 }
        return k >= p ? k + 1 : nil
    }

    private func matchO200k(_ s: [Unicode.Scalar], _ c: [UInt8], at i: Int) -> Int {
        let n = s.count
        let ci = c[i]
        // `P?` is greedy: each word alternative is tried with the lead scalar first, then without.
        let starts = isP(ci) && i + 1 < n ? [i + 1, i] : [i]
        func withContraction(_ end: Int) -> Int {
            guard end < n && s[end] == "'" else { return end }
            return end + contraction(s, at: end, caseInsensitive: true)
        }
        // `P?U*W+C?`
        for p in starts { if let end = upperThenLower(c, from: p) { return withContraction(end) } }
        // `P?U+W*C?`
        for p in starts where isU(c[p]) {
            let q = run(c, from: p) { isU($0) }
            return withContraction(run(c, from: q) { isW($0) })
        }
        // `\p{N}{1,3}`
        if ci & ScalarClass.number != 0 {
            var j = i + 1
            while j < n && j - i < 3 && c[j] & ScalarClass.number != 0 { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        var start = -1
        if isOther(ci) { start = i } else if s[i] == " ", i + 1 < n, isOther(c[i + 1]) { start = i + 1 }
        if start >= 0 {
            var j = run(c, from: start) { isOther($0) }
            while j < n && (s[j] == "\r" || s[j] == "\n" || s[j] == "/") { j += 1 }
            return j
        }
        // `\s*[\r\n]+`: up to and including the last newline of the whitespace run.
        let q = spaceRunEnd(c, from: i)
        var k = q - 1
        while k >= i && c[k] & ScalarClass.newline == 0 { k -= 1 }
        if k >= i { return k + 1 }
        // `\s+(?!\S)|\s+`
        return trailingSpace(c, at: i)
    }
}
