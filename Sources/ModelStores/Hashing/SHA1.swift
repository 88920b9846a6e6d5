// SHA-1 (FIPS 180-4 §6.1), streaming, and the git blob hash built on it: the hub's ETag of a
// file kept in git rather than LFS is `sha1("blob <byte count>\0" + contents)`. Used only to
// check that a download is the file the hub named — not for anything secret.

/// An incremental SHA-1: `update` with the bytes in order, then `finalize`.
struct SHA1: BlockHash, Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0)
    var pending = PendingBlock()
    var length: UInt64 = 0

    init() {}

    /// The git object id of a blob with these contents of `count` bytes: feed the contents next.
    static func gitBlob(count: Int) -> SHA1 {
        var h = SHA1()
        h.update(Array("blob \(count)\u{0}".utf8))
        return h
    }

    /// The digest of `bytes` in one call.
    static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        hash(bytes, into: SHA1())
    }

    mutating func compress(_ blocks: UnsafeRawPointer, count: Int) {
        Self.compress(&state, blocks, count: count)
    }

    var stateBytes: [UInt8] {
        let (a, b, c, d, e) = state
        return [a, b, c, d, e].flatMap(\.bigEndianBytes)
    }

    /// §6.1.2 on `count` consecutive 64-byte blocks at `blocks`.
    private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32), _ blocks: UnsafeRawPointer, count: Int) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            var (h0, h1, h2, h3, h4) = state
            for n in 0..<count {
                let block = blocks + n * 64
                for t in 0..<16 { w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self)) }
                for t in 16..<80 { w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotatedLeft(1) }
                var (a, b, c, d, e) = (h0, h1, h2, h3, h4)
                for t in 0..<80 {
                    // §4.1.1 f_t and §4.2.1 K_t by round range.
                    let (f, k): (UInt32, UInt32) = switch t {
                    case 0..<20: ((b & c) | (~b & d), 0x5a827999)
                    case 20..<40: (b ^ c ^ d, 0x6ed9eba1)
                    case 40..<60: ((b & c) | (b & d) | (c & d), 0x8f1bbcdc)
                    default: (b ^ c ^ d, 0xca62c1d6)
                    }
                    let temp = a.rotatedLeft(5) &+ f &+ e &+ k &+ w[t]
                    (e, d, c, b, a) = (d, c, b.rotatedLeft(30), a, temp)
                }
                h0 &+= a; h1 &+= b; h2 &+= c; h3 &+= d; h4 &+= e
            }
            state = (h0, h1, h2, h3, h4)
        }
    }
}
