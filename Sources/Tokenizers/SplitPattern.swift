// The pre-tokenizer regexes of GPT-2 / SmolLM2, Llama 3 and Qwen2, as hand-written matchers over
// Unicode scalars. Each reproduces Oniguruma's leftmost-first alternation (what `tokenizers` runs)
// for its one pattern: \p{L} and \p{N} are general categories, \s is the White_Space property.
// Other patterns are not supported; the loader rejects them by name.

/// Scalar classes the patterns test: bit flags over one byte.
enum ScalarClass {
    static let letter: UInt8 = 1      // \p{L}
    static let number: UInt8 = 2      // \p{N}
    static let space: UInt8 = 4       // \s
    static let newline: UInt8 = 8     // [\r\n]

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
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c = letter
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

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pattern whose regex source is exactly `regex`, or nil.
    init?(regex: String) {
        switch regex {
        case Self.gpt2Regex: self = .gpt2
        case Self.llama3Regex: self = .llama3
        case Self.qwen2Regex: self = .qwen2
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
}
