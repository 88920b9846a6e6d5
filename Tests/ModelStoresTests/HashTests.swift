// SHA-256 and SHA-1 against the FIPS 180-4 example vectors (NIST CSRC "Examples with
// Intermediate Values") and RFC 3174's, git's blob ids against `git hash-object`, and
// streaming in odd-sized pieces against one call.
import XCTest
@testable import ModelStores

final class HashTests: XCTestCase {
    let abc448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    let abc896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"

    func testSHA256Vectors() {
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hexString, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash([UInt8]()).hexString, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array(abc448.utf8)).hexString, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hash(Array(abc896.utf8)).hexString, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).hexString,
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA1Vectors() {
        XCTAssertEqual(SHA1.hash(Array("abc".utf8)).hexString, "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(SHA1.hash([UInt8]()).hexString, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(SHA1.hash(Array(abc448.utf8)).hexString, "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(SHA1.hash(Array(abc896.utf8)).hexString, "a49b2446a02c645bf419f995b67091253a04a259")
        XCTAssertEqual(SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000)).hexString, "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    func testGitBlobIDs() {
        // `printf 'hello world\n' | git hash-object --stdin`, and the empty blob.
        var h = SHA1.gitBlob(count: 12)
        h.update(Array("hello world\n".utf8))
        XCTAssertEqual(h.finalize().hexString, "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        var e = SHA1.gitBlob(count: 0)
        XCTAssertEqual(e.finalize().hexString, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        var d = DigestStream(for: .gitBlob(""), byteCount: 12)
        Array("hello world\n".utf8).withUnsafeBytes { d.update($0) }
        XCTAssertEqual(d.finalize(), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
    }

    func testStreamingInPiecesMatchesOneCall() {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &g) }
        let whole256 = SHA256.hash(bytes), whole1 = SHA1.hash(bytes)
        for pieces in [[1, 63, 64, 65], [7], [64], [127, 1], [3000, 5000]] {
            var a = SHA256(), b = SHA1()
            var i = 0, k = 0
            while i < bytes.count {
                let n = min(pieces[k % pieces.count], bytes.count - i)
                a.update(Array(bytes[i..<(i + n)])); b.update(Array(bytes[i..<(i + n)]))
                i += n; k += 1
            }
            XCTAssertEqual(a.finalize(), whole256, "\(pieces)")
            XCTAssertEqual(b.finalize(), whole1, "\(pieces)")
        }
    }

    func testETagKinds() {
        XCTAssertEqual(ContentDigest(hubETag: String(repeating: "a", count: 64)), .sha256(String(repeating: "a", count: 64)))
        XCTAssertEqual(ContentDigest(hubETag: String(repeating: "B", count: 40)), .gitBlob(String(repeating: "b", count: 40)))
        XCTAssertNil(ContentDigest(hubETag: "abc-123"))
        XCTAssertEqual(HubClient.normalizeETag("W/\"abc\""), "abc")
        XCTAssertEqual(HubClient.normalizeETag("\"def\""), "def")
    }

    /// Throughput of the hashes on 64 MiB (printed, not asserted).
    func testHashThroughput() {
        let bytes = [UInt8](repeating: 0x5a, count: 64 << 20)
        for (name, run) in [("sha256", { _ = SHA256.hash(bytes) }), ("sha1", { _ = SHA1.hash(bytes) })] as [(String, () -> Void)] {
            let t0 = Date()
            run()
            let s = Date().timeIntervalSince(t0)
            print("\(name): \(String(format: "%.0f", 64 / s)) MiB/s")
        }
    }
}
