// Tensor storage semantics: views, copy on write, memory-mapped files, errors.
import XCTest
@testable import TensorCore
import TestSupport
import Foundation

final class TensorTests: XCTestCase {
    func testReshapeAndSliceAreViewsAndMutationCopies() throws {
        let t = try Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let r = try t.reshaped([2, -1])
        XCTAssertEqual(r.shape, [2, 3])
        let s = try t.slice(1..<3)
        XCTAssertEqual(s.floats, [3, 4, 5, 6])
        var m = s
        m.withUnsafeMutableFloats { $0[0] = 99 }
        XCTAssertEqual(m.floats, [99, 4, 5, 6])
        XCTAssertEqual(t.floats, [1, 2, 3, 4, 5, 6], "copy on write must not touch the original")
        XCTAssertThrowsError(try t.slice(2..<4))
    }

    func testMappedFileViewIsZeroCopyAndReadOnly() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-map-\(getpid()).bin")
        var values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        try Data(bytes: &values, count: 32).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try MappedFile(path: url.path)
        var t = try Tensor(mapping: file, offset: 8, shape: [2, 3], dtype: .f32)
        XCTAssertTrue(t.isMapped)
        XCTAssertEqual(t.floats, [3, 4, 5, 6, 7, 8])
        t.withUnsafeMutableFloats { $0[0] = -1 }
        XCTAssertFalse(t.isMapped)
        XCTAssertEqual(try Tensor(mapping: file, offset: 8, shape: [2], dtype: .f32).floats, [3, 4])
        XCTAssertThrowsError(try Tensor(mapping: file, offset: 8, shape: [7], dtype: .f32)) { error in
            XCTAssertTrue("\(error)".contains(url.lastPathComponent))
        }
        XCTAssertThrowsError(try Tensor(mapping: file, offset: 0, shape: [1 << 40, 1 << 40], dtype: .f32))
        XCTAssertThrowsError(try MappedFile(path: "/nonexistent/lorikeet.bin")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/lorikeet.bin"))
        }
    }
}
