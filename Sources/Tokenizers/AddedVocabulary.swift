// Added tokens (`added_tokens` of tokenizer.json, control / user-defined tokens of a GGUF): matched in
// the raw text before anything else, leftmost then longest, as `tokenizers`' AddedVocabulary does
// with its Aho-Corasick automaton. Honours lstrip / rstrip / single_word; tokens marked `normalized`
// are matched in the normalized text instead.

/// A token added on top of the model's vocabulary.
struct AddedToken: Sendable, Equatable {
    var content: String
    var id: Int
    var special: Bool
    var lstrip = false
    var rstrip = false
    var singleWord = false
    var normalized = false
}

/// A part of the input: plain text still to tokenize, or an added token already recognised.
enum Segment {
    case text(Substring, atStart: Bool)
    case token(Int)
}

/// A set of added tokens and a matcher over them.
struct TokenMatcher: Sendable {
    /// Candidates by first UTF-8 byte, longest first.
    private let byFirstByte: [[(bytes: [UInt8], token: AddedToken)]]
    let isEmpty: Bool

    init(_ tokens: [AddedToken]) {
        var buckets = [[(bytes: [UInt8], token: AddedToken)]](repeating: [], count: 256)
        for t in tokens where !t.content.isEmpty {
            let bytes = Array(t.content.utf8)
            buckets[Int(bytes[0])].append((bytes, t))
        }
        byFirstByte = buckets.map { $0.sorted { $0.bytes.count > $1.bytes.count } }
        isEmpty = tokens.allSatisfy { $0.content.isEmpty }
    }

    /// Splits `text` into plain-text segments and matched tokens, dropping empty text segments.
    func split(_ text: Substring, atStart: Bool, into out: inout [Segment]) {
        if isEmpty {
            if !text.isEmpty { out.append(.text(text, atStart: atStart)) }
            return
        }
        let utf8 = text.utf8
        let bytes = Array(utf8)
        let base = utf8.startIndex
        func index(_ offset: Int) -> String.Index { utf8.index(base, offsetBy: offset) }
        var segmentStart = 0   // start of pending plain text
        var i = 0
        while i < bytes.count {
            var matched: (start: Int, end: Int, token: AddedToken)?
            for candidate in byFirstByte[Int(bytes[i])] {
                let c = candidate.bytes
                guard i + c.count <= bytes.count, bytes[i..<(i + c.count)].elementsEqual(c) else { continue }
                matched = (i, i + c.count, candidate.token)
                break
            }
            guard var m = matched else { i += 1; continue }
            if m.token.singleWord {
                let before = m.start == 0 ? nil : text[..<index(m.start)].unicodeScalars.last
                let after = m.end == bytes.count ? nil : text[index(m.end)...].unicodeScalars.first
                if let b = before, Self.isWordScalar(b) { i = m.end; continue }
                if let a = after, Self.isWordScalar(a) { i = m.end; continue }
            }
            if m.token.lstrip {
                var s = m.start
                let prefix = text[index(segmentStart)..<index(m.start)].unicodeScalars
                for scalar in prefix.reversed() {
                    guard scalar.properties.isWhitespace else { break }
                    s -= UTF8.width(scalar)
                }
                m.start = max(s, segmentStart)
            }
            if m.token.rstrip {
                for scalar in text[index(m.end)...].unicodeScalars {
                    guard scalar.properties.isWhitespace else { break }
                    m.end += UTF8.width(scalar)
                }
            }
            if m.start > segmentStart {
                out.append(.text(text[index(segmentStart)..<index(m.start)], atStart: atStart && segmentStart == 0))
            }
            out.append(.token(m.token.id))
            segmentStart = m.end
            i = m.end
        }
        if segmentStart < bytes.count {
            out.append(.text(text[index(segmentStart)...], atStart: atStart && segmentStart == 0))
        }
    }

    /// `tokenizers`' word characters for single_word: alphanumeric or "_".
    private static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        return ScalarClass.of(s) & (ScalarClass.letter | ScalarClass.number) != 0 || s.properties.isAlphabetic
    }
}
