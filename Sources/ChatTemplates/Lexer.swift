// Lexer: splits a template into text, `{{ … }}` and `{% … %}` segments with Jinja's whitespace
// rules as transformers configures them (trim_blocks, lstrip_blocks, `-`/`+` modifiers, one
// trailing newline dropped), and tokenizes the inside of each tag. Works on UTF-8 bytes.

/// One token inside a `{{ }}` or `{% %}` tag.
struct Token: Sendable {
    enum Kind: Sendable, Equatable { case name, string, integer, float, op, end }
    let kind: Kind
    /// Name, operator text, or the unescaped string literal.
    let text: String
    let location: SourceLocation
    var intValue: Int = 0
    var doubleValue: Double = 0

    func isOp(_ op: String) -> Bool { kind == .op && text == op }
    func isName(_ name: String) -> Bool { kind == .name && text == name }
}

/// The template cut into literal text and tags; each tag's tokens end with an `.end` token.
enum Segment: Sendable {
    case text(String)
    case output([Token], SourceLocation)
    case statement([Token], SourceLocation)
}

struct Lexer {
    let bytes: [UInt8]
    /// Byte offsets where each line starts, for locations in O(log n).
    private let lineStarts: [Int]
    /// The last location computed: lexing moves forward (and back by at most one tag), so the
    /// next one is found from here.
    private final class Cursor { var offset = 0, line = 1, column = 1 }
    private let cursor = Cursor()
    private var segments: [Segment] = []

    init(_ source: String) {
        // Jinja normalises newlines to "\n" and drops one trailing newline (keep_trailing_newline=False).
        var text = source.replacingCRLF()
        if text.hasSuffix("\n") { text.removeLast() }
        let utf8 = Array(text.utf8)
        bytes = utf8
        lineStarts = [0] + utf8.indices.filter { utf8[$0] == 0x0A }.map { $0 + 1 }
    }

    static func segments(of source: String) throws -> [Segment] {
        var lexer = Lexer(source)
        try lexer.run()
        return lexer.segments
    }

    func location(of offset: Int) -> SourceLocation {
        let offset = min(offset, bytes.count)
        if offset < cursor.offset, offset >= lineStarts[cursor.line - 1] {
            // Back within the cursor's line (a tag's start after its end): step back rather than
            // rescan the line from its start, which made a long one-line template quadratic.
            for byte in bytes[offset..<cursor.offset] where byte & 0xC0 != 0x80 { cursor.column -= 1 }
            cursor.offset = offset
            return SourceLocation(line: cursor.line, column: cursor.column)
        }
        if offset < cursor.offset {
            var lo = 0, hi = lineStarts.count - 1  // the last line start <= offset
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
            }
            (cursor.offset, cursor.line, cursor.column) = (lineStarts[lo], lo + 1, 1)
        }
        for byte in bytes[cursor.offset..<offset] {
            if byte == 0x0A {
                cursor.line += 1
                cursor.column = 1
            } else if byte & 0xC0 != 0x80 {
                cursor.column += 1
            }
        }
        cursor.offset = offset
        return SourceLocation(line: cursor.line, column: cursor.column)
    }

    private func at(_ offset: Int, _ literal: String) -> Bool {
        let lit = Array(literal.utf8)
        guard offset >= 0, offset + lit.count <= bytes.count else { return false }
        return Array(bytes[offset..<offset + lit.count]) == lit
    }

    private mutating func run() throws {
        var pos = 0
        while pos < bytes.count {
            guard let open = findOpen(from: pos) else {
                emitText(pos..<bytes.count)
                break
            }
            let kind = bytes[open + 1]
            var inner = open + 2
            var textRange = pos..<open
            let modifier = inner < bytes.count ? bytes[inner] : 0
            if modifier == UInt8(ascii: "-") {
                while textRange.upperBound > textRange.lowerBound, isSpace(bytes[textRange.upperBound - 1]) {
                    textRange = textRange.lowerBound..<(textRange.upperBound - 1)
                }
                inner += 1
            } else if modifier == UInt8(ascii: "+") {
                inner += 1
            } else if kind != UInt8(ascii: "{") {
                textRange = lstripBlock(textRange)
            }
            emitText(textRange)
            if kind == UInt8(ascii: "#") {
                pos = try skipComment(open: open, inner: inner)
            } else {
                pos = try lexTag(open: open, inner: inner, isBlock: kind == UInt8(ascii: "%"))
            }
        }
    }

    private func findOpen(from start: Int) -> Int? {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "{") {
                let next = bytes[i + 1]
                if next == UInt8(ascii: "{") || next == UInt8(ascii: "%") || next == UInt8(ascii: "#") { return i }
            }
            i += 1
        }
        return nil
    }

    /// lstrip_blocks: drop spaces and tabs between the start of the line and a block tag.
    private func lstripBlock(_ range: Range<Int>) -> Range<Int> {
        var lineStart = range.upperBound
        while lineStart > range.lowerBound, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
        let atLineStart = lineStart > range.lowerBound || range.lowerBound == 0 || bytes[range.lowerBound - 1] == 0x0A
        guard atLineStart else { return range }
        for i in lineStart..<range.upperBound where bytes[i] != 0x20 && bytes[i] != 0x09 { return range }
        return range.lowerBound..<lineStart
    }

    private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    private mutating func emitText(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        segments.append(.text(String(decoding: bytes[range], as: UTF8.self)))
    }

    /// After a closing `%}`/`#}`: `-` strips all whitespace; otherwise trim_blocks eats one newline.
    private func afterClose(_ end: Int, strip: Bool, trimNewline: Bool) -> Int {
        var pos = end
        if strip {
            while pos < bytes.count, isSpace(bytes[pos]) { pos += 1 }
        } else if trimNewline, pos < bytes.count, bytes[pos] == 0x0A {
            pos += 1
        }
        return pos
    }

    private func skipComment(open: Int, inner: Int) throws -> Int {
        var i = inner
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "#"), bytes[i + 1] == UInt8(ascii: "}") {
                let sign = i > inner ? bytes[i - 1] : 0
                return afterClose(i + 2, strip: sign == UInt8(ascii: "-"), trimNewline: sign != UInt8(ascii: "+"))
            }
            i += 1
        }
        throw ChatTemplateError.unterminated("comment '{#' is never closed: expected '#}'", at: location(of: open))
    }

    private mutating func lexTag(open: Int, inner: Int, isBlock: Bool) throws -> Int {
        let closer: UInt8 = isBlock ? UInt8(ascii: "%") : UInt8(ascii: "}")
        let closeText = isBlock ? "%}" : "}}"
        var tokens: [Token] = []
        var depth = 0
        var i = inner
        while true {
            while i < bytes.count, isSpace(bytes[i]) { i += 1 }
            guard i < bytes.count else {
                throw ChatTemplateError.unterminated(
                    "tag '\(isBlock ? "{%" : "{{")' is never closed: expected '\(closeText)'", at: location(of: open))
            }
            let sign = bytes[i]
            if (sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+")), at(i + 1, closeText) {
                tokens.append(Token(kind: .end, text: closeText, location: location(of: i)))
                i = afterClose(i + 3, strip: sign == UInt8(ascii: "-"), trimNewline: isBlock && sign != UInt8(ascii: "+"))
                break
            }
            if depth == 0, bytes[i] == closer, i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "}") {
                tokens.append(Token(kind: .end, text: closeText, location: location(of: i)))
                i = afterClose(i + 2, strip: false, trimNewline: isBlock)
                break
            }
            let token = try lexToken(at: &i)
            if token.isOp("{") || token.isOp("[") || token.isOp("(") { depth += 1 }
            if token.isOp("}") || token.isOp("]") || token.isOp(")") { depth = max(0, depth - 1) }
            tokens.append(token)
        }
        let openLocation = location(of: open)
        if isBlock {
            if tokens.count == 2, tokens[0].isName("raw") { return try lexRaw(from: i, open: open) }
            segments.append(.statement(tokens, openLocation))
        } else {
            segments.append(.output(tokens, openLocation))
        }
        return i
    }

    /// `{% raw %}…{% endraw %}`: the text in between is emitted untouched.
    private mutating func lexRaw(from start: Int, open: Int) throws -> Int {
        var i = start
        while let tag = findOpen(from: i) {
            var j = tag + 2
            let strip = j < bytes.count && bytes[j] == UInt8(ascii: "-")
            if bytes[tag + 1] == UInt8(ascii: "%") {
                if strip || (j < bytes.count && bytes[j] == UInt8(ascii: "+")) { j += 1 }
                while j < bytes.count, isSpace(bytes[j]) { j += 1 }
                if at(j, "endraw") {
                    j += 6
                    while j < bytes.count, isSpace(bytes[j]) { j += 1 }
                    let sign = j < bytes.count ? bytes[j] : 0
                    if sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { j += 1 }
                    if at(j, "%}") {
                        var end = tag
                        if strip { while end > start, isSpace(bytes[end - 1]) { end -= 1 } }
                        emitText(start..<end)
                        return afterClose(j + 2, strip: sign == UInt8(ascii: "-"), trimNewline: sign != UInt8(ascii: "+"))
                    }
                }
            }
            i = tag + 2
        }
        throw ChatTemplateError.unterminated("'raw' block is never closed: expected '{% endraw %}'", at: location(of: open))
    }
}

extension String {
    func replacingCRLF() -> String {
        guard contains("\r") else { return self }
        var out = ""
        var previousCR = false
        for scalar in unicodeScalars {
            if scalar == "\r" { out.unicodeScalars.append("\n"); previousCR = true; continue }
            if scalar == "\n", previousCR { previousCR = false; continue }
            previousCR = false
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}
