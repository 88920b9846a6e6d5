// The normalizer, pre-tokenizer and decoder steps of a `tokenizers` pipeline that Llama-family
// tokenizer.json files use, each reproducing the Rust implementation's behaviour (including its
// quirks, e.g. Metaspace's decoder dropping every "▁" of the first token). Anything else is rejected
// when the file is loaded.
import Foundation

/// A text piece on its way through the pipeline; `atStart` when it begins at offset 0 of the input.
struct Piece {
    var text: Substring
    var atStart: Bool
}

/// One normalizer of `tokenizers` (normalizers/*.rs).
enum NormalizerStep: Sendable, Equatable {
    case nfc, nfd, nfkc, nfkd
    /// Prepends the string to a non-empty text (Llama 2's "▁").
    case prepend(String)
    /// Replaces every occurrence of a literal string.
    case replace(pattern: String, content: String)

    func apply(_ s: String) -> String {
        switch self {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        case .prepend(let p): return s.isEmpty ? s : p + s
        case .replace(let pattern, let content): return literalReplace(s, pattern, content)
        }
    }
}

/// Replaces every occurrence of `pattern` by `content`, comparing UTF-8 bytes (no canonical
/// equivalence, as in Rust); much faster than Foundation's `replacingOccurrences` on short strings.
func literalReplace(_ s: String, _ pattern: String, _ content: String) -> String {
    let p = Array(pattern.utf8)
    guard let first = p.first, s.utf8.contains(first) else { return s }
    let bytes = Array(s.utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count + 8)
    var i = 0
    while i < bytes.count {
        if bytes[i] == first, i + p.count <= bytes.count, bytes[i..<(i + p.count)].elementsEqual(p) {
            out += content.utf8
            i += p.count
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// How Metaspace decides whether to prepend its replacement character.
enum PrependScheme: String, Sendable {
    case always, first, never
}

/// One pre-tokenizer of `tokenizers` (pre_tokenizers/*.rs).
enum PreTokenizerStep: Sendable, Equatable {
    /// `Split` with behaviour Isolated and one of the supported regexes.
    case split(SplitPattern)
    /// `Digits`: each number scalar apart (individual) or runs of them.
    case digits(individual: Bool)
    /// `ByteLevel`: optional GPT-2 regex split and prefix space; the model then sees bytes.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// `Metaspace`: spaces become `replacement`, prefix by scheme, optional split before each one.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)

    func apply(_ piece: Piece, into out: inout [Piece]) {
        switch self {
        case .split(let pattern):
            Self.splitWith(pattern, piece, into: &out)
        case .digits(let individual):
            Self.splitDigits(piece, individual: individual, into: &out)
        case .byteLevel(let addPrefixSpace, let useRegex):
            var p = piece
            if addPrefixSpace && p.text.unicodeScalars.first != " " { p.text = Substring(" " + p.text) }
            if useRegex { Self.splitWith(.gpt2, p, into: &out) } else { out.append(p) }
        case .metaspace(let replacement, let scheme, let split):
            var text = literalReplace(String(piece.text), " ", String(replacement))
            let prepend: Bool
            switch scheme {
            case .always: prepend = true
            case .first: prepend = piece.atStart
            case .never: prepend = false
            }
            if prepend && text.unicodeScalars.first != replacement { text = String(replacement) + text }
            if split {
                Self.splitMergedWithNext(Substring(text), on: replacement, atStart: piece.atStart, into: &out)
            } else if !text.isEmpty {
                out.append(Piece(text: Substring(text), atStart: piece.atStart))
            }
        }
    }

    static func splitWith(_ pattern: SplitPattern, _ piece: Piece, into out: inout [Piece]) {
        let view = piece.text.unicodeScalars
        var scalars = [Unicode.Scalar]()
        var indices = [String.Index]()
        scalars.reserveCapacity(piece.text.utf8.count)
        indices.reserveCapacity(piece.text.utf8.count + 1)
        var i = view.startIndex
        while i < view.endIndex {
            scalars.append(view[i])
            indices.append(i)
            view.formIndex(after: &i)
        }
        indices.append(view.endIndex)
        let classes = scalars.map(ScalarClass.of)
        var ends = [Int]()
        pattern.split(scalars, classes: classes, ends: &ends)
        var start = 0
        for end in ends {
            out.append(Piece(text: piece.text[indices[start]..<indices[end]], atStart: piece.atStart && start == 0))
            start = end
        }
    }

    static func splitDigits(_ piece: Piece, individual: Bool, into out: inout [Piece]) {
        let text = piece.text
        var start = text.startIndex
        var i = start
        var previousWasDigit = false
        func emit(_ end: String.Index) {
            if start < end { out.append(Piece(text: text[start..<end], atStart: piece.atStart && start == text.startIndex)) }
            start = end
        }
        while i < text.endIndex {
            let isDigit = ScalarClass.of(text.unicodeScalars[i]) & ScalarClass.number != 0
            let next = text.unicodeScalars.index(after: i)
            if isDigit && individual {
                emit(i)
                emit(next)
            } else if isDigit != previousWasDigit {
                emit(i)
            }
            previousWasDigit = isDigit
            i = next
        }
        emit(text.endIndex)
    }

    /// `split(delimiter, MergedWithNext)`: every delimiter starts a new piece ("▁▁a" → "▁", "▁a").
    static func splitMergedWithNext(_ text: Substring, on delimiter: Unicode.Scalar, atStart: Bool, into out: inout [Piece]) {
        let view = text.unicodeScalars
        var starts = [view.startIndex]
        var i = view.startIndex
        while i < view.endIndex {
            if view[i] == delimiter && i != view.startIndex { starts.append(i) }
            view.formIndex(after: &i)
        }
        for (k, s) in starts.enumerated() {
            let e = k + 1 < starts.count ? starts[k + 1] : view.endIndex
            if s < e { out.append(Piece(text: text[s..<e], atStart: atStart && k == 0)) }
        }
    }
}

/// One decoder of `tokenizers` (decoders/*.rs); a decoder maps the token list to a new list.
enum DecoderStep: Sendable, Equatable {
    case byteLevel
    case replace(pattern: String, content: String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            return [ByteLevel.decodeTokens(tokens)]
        case .replace(let pattern, let content):
            return tokens.map { literalReplace($0, pattern, content) }
        case .fuse:
            return [tokens.joined()]
        case .byteFallback:
            return Self.byteFallback(tokens)
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let chars = Array(token.unicodeScalars)
                var lo = 0
                while lo < start && lo < chars.count && chars[lo] == content { lo += 1 }
                var hi = chars.count
                while chars.count - hi < stop && hi > lo && chars[hi - 1] == content { hi -= 1 }
                var view = String.UnicodeScalarView()
                view.append(contentsOf: chars[lo..<hi])
                return String(view)
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                var view = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c != replacement {
                        view.append(c)
                    } else if !(i == 0 && scheme != .never) {
                        view.append(" ")
                    }
                }
                return String(view)
            }
        }
    }

    /// Runs of "<0xAB>" tokens become their UTF-8 text, or one U+FFFD per byte when invalid.
    static func byteFallback(_ tokens: [String]) -> [String] {
        var out = [String]()
        var bytes = [UInt8]()
        func flush() {
            guard !bytes.isEmpty else { return }
            let text = String(decoding: bytes, as: UTF8.self)
            if text.utf8.elementsEqual(bytes) {
                out.append(text)
            } else {
                out.append(contentsOf: Array(repeating: "\u{FFFD}", count: bytes.count))
            }
            bytes.removeAll()
        }
        for token in tokens {
            let u = Array(token.utf8)
            if u.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"),
               let b = UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16) {
                bytes.append(b)
            } else {
                flush()
                out.append(token)
            }
        }
        flush()
        return out
    }
}
