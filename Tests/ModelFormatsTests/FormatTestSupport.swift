// Helpers for the format tests: temporary files, fixture paths, a little-endian byte
// builder for hand-made (often deliberately broken) GGUF and safetensors files, and an
// assertion that an expression throws a FormatError of a given kind.
import Foundation
import XCTest
@testable import ModelFormats

enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The repository's cache/ (symlinks resolved, so a dev package linking these tests works).
    static let smolLM2 = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// A fresh temporary directory, removed by the test case's teardown.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-formats-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Little-endian bytes under construction.
struct Bytes {
    var data: [UInt8] = []
    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data.append(contentsOf: s.utf8) }
    mutating func pad(to a: Int) { while data.count % a != 0 { data.append(0) } }

    /// A GGUF header: magic, version, counts.
    static func ggufHeader(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> Bytes {
        var b = Bytes()
        b.data.append(contentsOf: Array("GGUF".utf8))
        b.u32(version)
        b.u64(tensors)
        b.u64(kvs)
        return b
    }

    /// A tensor info entry (dims innermost first).
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    func write(to url: URL) throws { try Data(data).write(to: url) }
}

/// Asserts `body` throws a FormatError for which `matches` is true; never lets it crash.
func assertFormatError<T>(_ body: @autoclosure () throws -> T, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line,
                          _ matches: (FormatError) -> Bool) {
    do {
        _ = try body()
        XCTFail("\(what): expected a FormatError, got success", file: file, line: line)
    } catch let e as FormatError {
        XCTAssertTrue(matches(e), "\(what): unexpected error \(e)", file: file, line: line)
        XCTAssertFalse(e.description.isEmpty)
    } catch {
        XCTFail("\(what): expected a FormatError, got \(error)", file: file, line: line)
    }
}
