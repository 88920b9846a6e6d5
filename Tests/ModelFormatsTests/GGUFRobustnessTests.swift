// Damaged and hostile GGUF files: wrong magic, unsupported versions, truncation anywhere,
// absurd counts and lengths, overflowing or invalid dimensions, unknown types, data past
// the end. Each must throw a FormatError naming the file (and tensor), never crash, and
// never allocate the size a header claims.
import Foundation
import XCTest
@testable import ModelFormats

final class GGUFRobustnessTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory(self) }

    func open(_ b: Bytes) throws -> GGUFFile {
        let url = dir.appendingPathComponent("\(UUID().uuidString).gguf")
        try b.write(to: url)
        return try GGUFFile(path: url.path)
    }

    /// A valid file with one F32 tensor "t" of `dims`, then `extra` edits.
    func oneTensor(dims: [UInt64] = [4], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 16) -> Bytes {
        var b = Bytes.ggufHeader(tensors: 1, kvs: 0)
        b.tensorInfo("t", dims: dims, type: type, offset: offset)
        b.pad(to: 32)
        b.data += [UInt8](repeating: 0, count: dataBytes)
        return b
    }

    func testWrongMagicAndVersion() throws {
        var b = Bytes.ggufHeader(tensors: 0, kvs: 0)
        b.data[0] = UInt8(ascii: "X")
        assertFormatError(try open(b), "magic") { if case .badMagic = $0 { true } else { false } }
        for v: UInt32 in [0, 1, 4, 0x0300_0000] {
            assertFormatError(try open(Bytes.ggufHeader(version: v, tensors: 0, kvs: 0)), "version \(v)") {
                if case let .unsupportedVersion(_, got, _) = $0 { got == Int(v) } else { false }
            }
        }
        XCTAssertNoThrow(try open(Bytes.ggufHeader(tensors: 0, kvs: 0)))
    }

    func testEveryTruncationThrows() throws {
        var b = Bytes.ggufHeader(tensors: 1, kvs: 2)
        b.string("general.name"); b.u32(8); b.string("tiny")
        b.string("list"); b.u32(9); b.u32(8); b.u64(2); b.string("a"); b.string("bc")
        b.tensorInfo("t", dims: [4], type: 0, offset: 0)
        b.pad(to: 32)
        b.data += [UInt8](repeating: 0, count: 16)
        XCTAssertNoThrow(try open(b))
        for n in 0..<b.data.count {
            var cut = Bytes()
            cut.data = Array(b.data[0..<n])
            assertFormatError(try open(cut), "cut at \(n)") { e in
                switch e {
                case .truncated, .tensorOutOfBounds, .invalidHeader: true
                default: false
                }
            }
        }
    }

    func testAbsurdCounts() throws {
        assertFormatError(try open(Bytes.ggufHeader(tensors: 1 << 60, kvs: 0)), "2^60 tensors") {
            if case .invalidHeader = $0 { true } else { false }
        }
        assertFormatError(try open(Bytes.ggufHeader(tensors: 0, kvs: 1 << 60)), "2^60 metadata entries") {
            if case .invalidHeader = $0 { true } else { false }
        }
        assertFormatError(try open(Bytes.ggufHeader(tensors: UInt64.max, kvs: UInt64.max)), "2^64-1 counts") {
            if case .invalidHeader = $0 { true } else { false }
        }
        var s = Bytes.ggufHeader(tensors: 0, kvs: 1)
        s.u64(1 << 62)                              // key length 2^62
        s.data += Array("key".utf8)
        assertFormatError(try open(s), "2^62 key length") { if case .invalidHeader = $0 { true } else { false } }
        var v = Bytes.ggufHeader(tensors: 0, kvs: 1)
        v.string("k"); v.u32(8); v.u64(1 << 62)     // string value length 2^62
        assertFormatError(try open(v), "2^62 string length") { if case .invalidHeader = $0 { true } else { false } }
        var a = Bytes.ggufHeader(tensors: 0, kvs: 1)
        a.string("k"); a.u32(9); a.u32(8); a.u64(1 << 61)   // 2^61 strings
        assertFormatError(try open(a), "2^61 array elements") { if case .invalidHeader = $0 { true } else { false } }
        var n = Bytes.ggufHeader(tensors: 0, kvs: 1)
        n.string("deep"); n.u32(9)
        for _ in 0..<40 { n.u32(9); n.u64(1) }       // arrays nested 40 deep
        n.u32(0); n.u64(0)
        assertFormatError(try open(n), "deep nesting") { if case .invalidHeader = $0 { true } else { false } }
        var t = Bytes.ggufHeader(tensors: 0, kvs: 1)
        t.string("k"); t.u32(13); t.u32(0)
        assertFormatError(try open(t), "unknown value type") { if case .invalidHeader = $0 { true } else { false } }
        var d = Bytes.ggufHeader(tensors: 0, kvs: 2)
        d.string("k"); d.u32(4); d.u32(1)
        d.string("k"); d.u32(4); d.u32(2)
        assertFormatError(try open(d), "duplicate key") { if case .duplicateName = $0 { true } else { false } }
    }

    func testBadDimensions() throws {
        assertFormatError(try open(oneTensor(dims: [1 << 32, 1 << 32])), "product overflows") {
            if case let .invalidShape(_, t, _) = $0 { t == "t" } else { false }
        }
        assertFormatError(try open(oneTensor(dims: [UInt64.max])), "dimension 2^64-1") {
            if case .invalidShape = $0 { true } else { false }
        }
        assertFormatError(try open(oneTensor(dims: [1 << 62])), "huge but representable") {
            if case .invalidShape = $0 { true } else if case .tensorOutOfBounds = $0 { true } else { false }
        }
        assertFormatError(try open(oneTensor(dims: [1, 1, 1, 1, 1])), "5 dims") {
            if case .invalidShape = $0 { true } else { false }
        }
        var many = Bytes.ggufHeader(tensors: 1, kvs: 0)
        many.string("t"); many.u32(0xFFFF_FFFF)
        many.data += [UInt8](repeating: 0, count: 64)
        assertFormatError(try open(many), "2^32-1 dims") { if case .invalidShape = $0 { true } else { false } }
        assertFormatError(try open(oneTensor(dims: [31], type: 8, dataBytes: 34)), "Q8_0 row not whole blocks") {
            if case let .invalidShape(_, t, _) = $0 { t == "t" } else { false }
        }
    }

    func testUnknownTypeAndOffsets() throws {
        assertFormatError(try open(oneTensor(type: 31)), "removed type 31") {
            if case let .unsupportedType(_, t, _) = $0 { t == "t" } else { false }
        }
        assertFormatError(try open(oneTensor(type: 1000)), "type 1000") { if case .unsupportedType = $0 { true } else { false } }
        assertFormatError(try open(oneTensor(offset: 1 << 40)), "offset past EOF") {
            if case let .tensorOutOfBounds(_, t, _) = $0 { t == "t" } else { false }
        }
        assertFormatError(try open(oneTensor(offset: UInt64.max - 31)), "offset near 2^64") {
            if case .tensorOutOfBounds = $0 { true } else { false }
        }
        assertFormatError(try open(oneTensor(offset: 8)), "misaligned offset") {
            if case .tensorOutOfBounds = $0 { true } else { false }
        }
        assertFormatError(try open(oneTensor(dataBytes: 15)), "data one byte short") {
            if case .tensorOutOfBounds = $0 { true } else { false }
        }
        var al = Bytes.ggufHeader(tensors: 0, kvs: 1)
        al.string("general.alignment"); al.u32(4); al.u32(48)
        assertFormatError(try open(al), "alignment 48") { if case .invalidHeader = $0 { true } else { false } }
        var dup = Bytes.ggufHeader(tensors: 2, kvs: 0)
        dup.tensorInfo("t", dims: [4], type: 0, offset: 0)
        dup.tensorInfo("t", dims: [4], type: 0, offset: 32)
        dup.pad(to: 32)
        dup.data += [UInt8](repeating: 0, count: 48)
        assertFormatError(try open(dup), "duplicate tensor") { if case .duplicateName = $0 { true } else { false } }
    }

    func testKnownButUndecodableTypeOpensButTensorThrows() throws {
        let f = try open(oneTensor(dims: [256], type: GGMLTypeID.iq2_XXS, dataBytes: 66))
        XCTAssertEqual(f.info("t")?.byteCount, 66)
        XCTAssertNoThrow(try f.rawTensor(named: "t"))
        assertFormatError(try f.tensor(named: "t"), "IQ2_XXS") {
            if case let .unsupportedType(_, t, _) = $0 { t == "t" } else { false }
        }
    }
}

enum GGMLTypeID { static let iq2_XXS: UInt32 = 16 }
