// Reads `model.vocab` of tokenizer.json with its keys byte-exact and in file order. JSONDecoder
// cannot: it keys objects by Swift String, which merges canonically equivalent spellings ("é" and
// "e\u{301}") that a vocabulary may hold as two tokens. A small skimming JSON reader, nothing more.

/// A forward-only JSON reader over UTF-8 bytes that materialises only what it is asked for.
struct JSONSkimmer {
    private let bytes: [UInt8]
    private var i = 0
    private let file: String

    init(_ bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// The (token, id) pairs of the root's `model.vocab` object, or nil when there is none.
    static func modelVocabulary(_ bytes: [UInt8], file: String) throws -> [(String, Int)]? {
        var s = JSONSkimmer(bytes, file: file)
        var found: [(String, Int)]?
        try s.object { s, key in
            guard key == "model" else { return try s.skipValue() }
            guard s.peek() == UInt8(ascii: "{") else { return try s.skipValue() }
            try s.object { s, key in
                guard key == "vocab", s.peek() == UInt8(ascii: "{") else { return try s.skipValue() }
                var pairs = [(String, Int)]()
                try s.object { s, token in pairs.append((token, try s.integer())) }
                found = pairs
            }
        }
        return found
    }

    private func fail(_ what: String) -> TokenizerError {
        .invalidJSON(file: file, detail: "\(what) at byte \(i)")
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func peek() -> UInt8? {
        skipSpace()
        return i < bytes.count ? bytes[i] : nil
    }

    private mutating func expect(_ c: UInt8) throws {
        guard peek() == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    /// Calls `body` for each key of an object, positioned at its value; `body` must consume the value.
    private mutating func object(_ body: (inout JSONSkimmer, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            guard let c = peek() else { throw fail("unterminated object") }
            i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
        }
    }

    private mutating func integer() throws -> Int {
        _ = peek()
        var negative = false
        if i < bytes.count && bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var value = 0
        let start = i
        while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(bytes[i] - 0x30))
            guard !o1 && !o2 else { throw fail("token id too large") }
            value = sum
            i += 1
        }
        guard i > start else { throw fail("expected an integer token id") }
        return negative ? -value : value
    }

    private mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        var out = [UInt8]()
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00, i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    v = 0x10000 &+ ((v &- 0xD800) << 10) &+ (low &- 0xDC00)   // nonsense pairs end as U+FFFD
                }
                out += Array(String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8)
            default: out.append(e)   // \" \\ \/
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }

    private mutating func skipValue() throws {
        guard let c = peek() else { throw fail("expected a value") }
        switch c {
        case UInt8(ascii: "{"):
            try object { s, _ in try s.skipValue() }
        case UInt8(ascii: "["):
            i += 1
            if peek() == UInt8(ascii: "]") { i += 1; return }
            while true {
                try skipValue()
                guard let d = peek() else { throw fail("unterminated array") }
                i += 1
                if d == UInt8(ascii: "]") { return }
                guard d == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
            }
        case UInt8(ascii: "\""):
            _ = try string()
        default:   // number, true, false, null
            while i < bytes.count, !",]} \n\r\t".utf8.contains(bytes[i]) { i += 1 }
        }
    }
}
