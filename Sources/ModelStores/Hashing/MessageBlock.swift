// What SHA-1 and SHA-256 share (FIPS 180-4 §5.1.1, §5.2.1): the message cut into 64-byte
// blocks, the last one padded with a 1 bit, zeros and the 64-bit message length; and the hex
// spelling digests are compared in.

/// A hash over 64-byte blocks: the conforming type compresses blocks into its state and
/// spells its state as the digest; buffering and padding are done here.
protocol BlockHash {
    /// Bytes of an unfinished block carried between `update` calls.
    var pending: PendingBlock { get set }
    /// Bytes fed so far.
    var length: UInt64 { get set }
    /// Folds `count` consecutive 64-byte blocks at `blocks` into the state.
    mutating func compress(_ blocks: UnsafeRawPointer, count: Int)
    /// The state, big-endian: the digest once the padding has been compressed.
    var stateBytes: [UInt8] { get }
}

extension BlockHash {
    /// The digest of `bytes` in one call.
    static func hash<Bytes: Sequence>(_ bytes: Bytes, into h: Self) -> [UInt8] where Bytes.Element == UInt8 {
        var h = h
        h.update(Array(bytes))
        return h.finalize()
    }

    /// Feeds `bytes`.
    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds the bytes `buffer` points to.
    mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard !buffer.isEmpty else { return }
        length &+= UInt64(buffer.count)
        var rest = buffer
        if pending.count > 0 {
            rest = pending.append(rest)
            if pending.isFull {
                let block = pending.bytes
                block.withUnsafeBytes { compress($0.baseAddress!, count: 1) }
                pending.count = 0
            }
        }
        let whole = rest.count / 64
        if whole > 0 {
            compress(rest.baseAddress!, count: whole)
            rest = UnsafeRawBufferPointer(rebasing: rest[(whole * 64)...])
        }
        if !rest.isEmpty { _ = pending.append(rest) }
    }

    /// Pads, compresses the last block(s) and returns the digest. The hash is spent afterwards.
    mutating func finalize() -> [UInt8] {
        var tail = Array(pending.bytes[0..<pending.count])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        tail += (length &* 8).bigEndianBytes
        tail.withUnsafeBytes { compress($0.baseAddress!, count: tail.count / 64) }
        pending.count = 0
        return stateBytes
    }
}

/// Up to 64 bytes of a block not yet compressed.
struct PendingBlock: Sendable {
    var bytes = [UInt8](repeating: 0, count: 64)
    var count = 0
    var isFull: Bool { count == 64 }

    /// Copies as much of `input` as fits and returns the rest of it.
    mutating func append(_ input: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let take = min(64 - count, input.count)
        let at = count
        bytes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: at).copyMemory(from: input.baseAddress!, byteCount: take) }
        count += take
        return UnsafeRawBufferPointer(rebasing: input[take...])
    }
}

extension FixedWidthInteger {
    /// The value's bytes, most significant first.
    var bigEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }
}

extension UInt32 {
    // Masking shifts: Swift's `>>` / `<<` also handle amounts ≥ 32, which costs a compare and a
    // select per shift; these compile to one rotate instruction.
    @inline(__always) func rotatedRight(_ n: UInt32) -> UInt32 { (self &>> n) | (self &<< (32 &- n)) }
    @inline(__always) func rotatedLeft(_ n: UInt32) -> UInt32 { (self &<< n) | (self &>> (32 &- n)) }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
