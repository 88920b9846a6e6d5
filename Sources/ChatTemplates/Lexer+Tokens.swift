// Lexer+Tokens: the tokens inside a tag: names, numbers, string literals (with Python's
// escapes, as Jinja unescapes them) and operators, longest match first.

import Foundation

extension Lexer {
    private static let operators: [(text: String, bytes: [UInt8])] = [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ].map { ($0, Array($0.utf8)) }

    private static func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    mutating func lexToken(at i: inout Int) throws -> Token {
        let start = i
        let loc = location(of: start)
        let bytes = self.bytes
        let b = bytes[i]
        if Self.isNameStart(b) {
            while i < bytes.count, Self.isNameStart(bytes[i]) || Self.isDigit(bytes[i]) { i += 1 }
            return Token(kind: .name, text: String(decoding: bytes[start..<i], as: UTF8.self), location: loc)
        }
        if Self.isDigit(b) {
            return try lexNumber(at: &i, location: loc)
        }
        if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
            return Token(kind: .string, text: try lexString(at: &i, quote: b, location: loc), location: loc)
        }
        for op in Self.operators where i + op.bytes.count <= bytes.count
            && bytes[i] == op.bytes[0] && (op.bytes.count == 1 || bytes[i + 1] == op.bytes[1]) {
            i += op.bytes.count
            return Token(kind: .op, text: op.text, location: loc)
        }
        let scalar = String(decoding: bytes[i..<min(i + 4, bytes.count)], as: UTF8.self).unicodeScalars.first
        throw ChatTemplateError.syntax(
            "unexpected character '\(scalar.map(String.init) ?? "?")' inside a tag", at: loc)
    }

    private func lexNumber(at i: inout Int, location: SourceLocation) throws -> Token {
        let bytes = self.bytes
        let start = i
        var isFloat = false
        while i < bytes.count, Self.isDigit(bytes[i]) || bytes[i] == UInt8(ascii: "_") { i += 1 }
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: "."), Self.isDigit(bytes[i + 1]) {
            isFloat = true
            i += 1
            while i < bytes.count, Self.isDigit(bytes[i]) || bytes[i] == UInt8(ascii: "_") { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            var j = i + 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            if j < bytes.count, Self.isDigit(bytes[j]) {
                isFloat = true
                i = j
                while i < bytes.count, Self.isDigit(bytes[i]) { i += 1 }
            }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let value = Double(text) else {
                throw ChatTemplateError.syntax("malformed number '\(text)'", at: location)
            }
            return Token(kind: .float, text: text, location: location, doubleValue: value)
        }
        guard let value = Int(text) else {
            throw ChatTemplateError.syntax("integer '\(text)' is out of range", at: location)
        }
        return Token(kind: .integer, text: text, location: location, intValue: value)
    }

    /// A quoted literal; escapes follow Python's `unicode-escape`, unknown ones stay as written.
    private func lexString(at i: inout Int, quote: UInt8, location: SourceLocation) throws -> String {
        let bytes = self.bytes
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            if b == quote {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let e = bytes[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "0"): out.append(0x00)
                case UInt8(ascii: "a"): out.append(0x07)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "v"): out.append(0x0B)
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "\n"): break
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let width = e == UInt8(ascii: "x") ? 2 : (e == UInt8(ascii: "u") ? 4 : 8)
                    guard i + width <= bytes.count,
                        let code = UInt32(String(decoding: bytes[i..<i + width], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else {
                        throw ChatTemplateError.syntax("malformed \\\(Character(Unicode.Scalar(e))) escape in a string", at: location)
                    }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += width
                default:
                    out.append(UInt8(ascii: "\\"))
                    out.append(e)
                }
                continue
            }
            out.append(b)
            i += 1
        }
        throw ChatTemplateError.unterminated("string literal is never closed: expected \(Character(Unicode.Scalar(quote)))", at: location)
    }
}
