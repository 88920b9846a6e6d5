// TemplateValue+JSON: an order-keeping JSON reader (tools and messages keep their key order,
// which `tojson` then reproduces) and the writer behind the `tojson` filter, matching
// Python's json.dumps as transformers calls it (ensure_ascii=False, optional indent).

/// Why a JSON text could not be read into a TemplateValue.
public struct TemplateJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem in the UTF-8 text.
    public let offset: Int
    /// What was expected there.
    public let message: String
    /// "JSON error at byte N: message".
    public var description: String { "JSON error at byte \(offset): \(message)" }
}

extension TemplateValue {
    /// Parses JSON text, keeping object keys in document order.
    public init(json: String) throws {
        var reader = JSONReader(bytes: Array(json.utf8))
        reader.skipSpace()
        let value = try reader.readValue()
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw reader.error("trailing characters after the JSON value") }
        self = value
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    func error(_ message: String) -> TemplateJSONError { TemplateJSONError(offset: index, message: message) }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    mutating func expect(_ literal: String) throws {
        let lit = Array(literal.utf8)
        guard index + lit.count <= bytes.count, Array(bytes[index..<index + lit.count]) == lit else {
            throw error("expected '\(literal)'")
        }
        index += lit.count
    }

    mutating func readValue() throws -> TemplateValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { throw error("nesting deeper than 512 levels") }
        guard index < bytes.count else { throw error("expected a value, found end of text") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var dict = TemplateDictionary()
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .dict(dict) }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try readString()
                skipSpace()
                try expect(":")
                skipSpace()
                dict[key] = try readValue()
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("}")
                return .dict(dict)
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [TemplateValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try readValue())
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                try expect("]")
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .none
        default: return try readNumber()
        }
    }

    mutating func readNumber() throws -> TemplateValue {
        let start = index
        var isFloat = false
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { isFloat = true }
            guard (b >= 0x30 && b <= 0x39) || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                UInt8(ascii: "e"), UInt8(ascii: "E")].contains(b) else { break }
            index += 1
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if !isFloat, let int = Int(text) { return .int(int) }
        guard !text.isEmpty, let double = Double(text) else {
            index = start
            throw error("expected a value")
        }
        return .double(double)
    }

    mutating func readString() throws -> String {
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var code = try readHex4()
                if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u") {
                    index += 2
                    let low = try readHex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: out.append(e)
            }
        }
        throw error("unterminated string")
    }

    mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count,
            let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw error("malformed \\u escape") }
        index += 4
        return code
    }
}

/// json.dumps options that templates pass to `tojson`.
struct JSONStyle {
    var indent: String?
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
    var ensureASCII = false
}

enum JSONWriter {
    /// Serialises like Python's json.dumps; throws a message for values JSON cannot hold.
    static func write(_ value: Value, style: JSONStyle, depth: Int = 0, into out: inout String) throws(JSONWriteError) {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += Value.pythonFloat(d)
            }
        case .string(let s): writeString(s, ascii: style.ensureASCII, into: &out)
        case .array(let items):
            try writeContainer(items.map { (nil as String?, $0) }, open: "[", close: "]", style: style, depth: depth, into: &out)
        case .dict(let dict):
            var entries = dict.entries
            if style.sortKeys { entries.sort { Array($0.key.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.key.unicodeScalars.map(\.value)) } }
            try writeContainer(entries.map { ($0.key, $0.value) }, open: "{", close: "}", style: style, depth: depth, into: &out)
        case .undefined, .namespace, .function:
            throw JSONWriteError(typeName: value.typeName)
        }
    }

    private static func writeContainer(_ items: [(String?, Value)], open: String, close: String,
                                       style: JSONStyle, depth: Int, into out: inout String) throws(JSONWriteError) {
        out += open
        if items.isEmpty { out += close; return }
        let newline = style.indent.map { "\n" + String(repeating: $0, count: depth + 1) }
        for (i, (key, item)) in items.enumerated() {
            if i > 0 { out += style.itemSeparator }
            if let newline { out += newline }
            if let key {
                writeString(key, ascii: style.ensureASCII, into: &out)
                out += style.keySeparator
            }
            try write(item, style: style, depth: depth + 1, into: &out)
        }
        if let indent = style.indent { out += "\n" + String(repeating: indent, count: depth) }
        out += close
    }

    static func writeString(_ s: String, ascii: Bool, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + String(format2: scalar.value)
                } else if ascii, scalar.value > 0x7E {
                    for unit in String(scalar).utf16 {
                        let hex = String(unit, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// A value json.dumps cannot serialise (undefined, namespace, function).
struct JSONWriteError: Error {
    let typeName: String
}
