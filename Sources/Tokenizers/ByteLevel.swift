// GPT-2's byte-level alphabet: every byte 0…255 spelled as one printable Unicode scalar, so that a
// byte-level vocabulary can be stored as text (space is "Ġ", newline "Ċ"). Same table as
// `bytes_to_unicode` in openai/gpt-2 and `tokenizers`' ByteLevel.

/// The byte ↔ scalar table of byte-level BPE.
enum ByteLevel {
    /// `scalar[b]`: the scalar that spells byte `b`.
    static let scalarForByte: [Unicode.Scalar] = {
        var printable = [UInt32]()
        printable += Array(UInt32(0x21)...0x7E)   // '!' … '~'
        printable += Array(UInt32(0xA1)...0xAC)   // '¡' … '¬'
        printable += Array(UInt32(0xAE)...0xFF)   // '®' … 'ÿ'
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var isPrintable = [Bool](repeating: false, count: 256)
        for b in printable {
            table[Int(b)] = Unicode.Scalar(b)!
            isPrintable[Int(b)] = true
        }
        var next: UInt32 = 256
        for b in 0..<256 where !isPrintable[b] {
            table[b] = Unicode.Scalar(next)!
            next += 1
        }
        return table
    }()

    /// The inverse table: the byte a scalar stands for, or nil when the scalar is not in the alphabet.
    static let byteForScalar: [UInt32: UInt8] = {
        var map = [UInt32: UInt8]()
        for (b, s) in scalarForByte.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// Spells raw bytes in the byte-level alphabet (the form vocabulary entries take).
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var view = String.UnicodeScalarView()
        for b in bytes { view.append(scalarForByte[Int(b)]) }
        return String(view)
    }

    /// The raw bytes a byte-level token stands for, or nil when it has a scalar outside the alphabet
    /// (added tokens such as "<|im_start|>" may; `tokenizers` then keeps their UTF-8 as is).
    static func decode(_ token: String) -> [UInt8]? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = byteForScalar[s.value] else { return nil }
            bytes.append(b)
        }
        return bytes
    }

    /// ByteLevel decoder of `tokenizers`: concatenate the tokens' bytes, then decode UTF-8, replacing
    /// invalid sequences with U+FFFD.
    static func decodeTokens(_ tokens: [String]) -> String {
        var bytes = [UInt8]()
        for token in tokens {
            if let raw = decode(token) { bytes += raw } else { bytes += Array(token.utf8) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
