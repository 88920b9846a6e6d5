// Damaged and hostile safetensors files: each must throw a FormatError that names the file
// (and the tensor where one is at fault), never crash, never allocate what a header claims.
import Foundation
import XCTest
import TensorCore
@testable import ModelFormats

final class SafetensorsRobustnessTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory(self) }

    /// Writes a file with header `json` (length field `claimed` when given) and `data` bytes.
    func file(_ json: String, data: [UInt8] = [], claimed: UInt64? = nil) throws -> String {
        var b = Bytes()
        let header = Array(json.utf8)
        b.u64(claimed ?? UInt64(header.count))
        b.data += header + data
        let url = dir.appendingPathComponent("\(UUID().uuidString).safetensors")
        try b.write(to: url)
        return url.path
    }

    func testTruncatedAndHeaderPastEOF() throws {
        let tiny = try file("", claimed: nil)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        assertFormatError(try SafetensorsFile(path: tiny), "3-byte file") {
            if case .truncated = $0 { $0.file == tiny } else { false }
        }
        let past = try file("{}", claimed: 1 << 40)
        assertFormatError(try SafetensorsFile(path: past), "header length past EOF") {
            if case .truncated = $0 { true } else { false }
        }
        let huge = try file("{}", claimed: UInt64.max)
        assertFormatError(try SafetensorsFile(path: huge), "header length 2^64-1") {
            if case .truncated = $0 { true } else { false }
        }
        // Data section shorter than the offsets claim.
        let short = try file(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: short), "data past EOF") {
            if case let .tensorOutOfBounds(_, t, _) = $0 { t == "a" } else { false }
        }
        assertFormatError(try SafetensorsFile(path: dir.appendingPathComponent("missing.safetensors").path), "missing file") {
            if case .io = $0 { true } else { false }
        }
    }

    func testMalformedJSON() throws {
        for bad in ["{\"a\":", "[1,2]", "not json at all", "{\"a\": 3}", "{\"__metadata__\": {\"k\": 1}}",
                    #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#] {
            let p = try file(bad, data: [0, 0, 0, 0])
            assertFormatError(try SafetensorsFile(path: p), bad) {
                if case .invalidHeader = $0 { $0.file == p } else { false }
            }
        }
    }

    func testNullMetadataReadsAsNone() throws {
        // mlx.core.save_safetensors writes this.
        let p = try file(#"{"__metadata__":null,"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 128, 63])
        let f = try SafetensorsFile(path: p)
        XCTAssertEqual(f.metadata, [:])
        XCTAssertEqual(try f.tensor("a").floats, [1])
    }

    func testUnknownDType() throws {
        let p = try file(#"{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: p), "F8") {
            if case let .unsupportedType(_, t, type) = $0 { t == "w" && type == "F8_E4M3" } else { false }
        }
    }

    func testOverlappingAndMisalignedOffsets() throws {
        let overlap = try file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                               data: [UInt8](repeating: 0, count: 12))
        assertFormatError(try SafetensorsFile(path: overlap), "overlap") {
            if case let .overlappingTensors(_, t, o) = $0 { t == "b" && o == "a" } else { false }
        }
        // Offsets whose span does not match the shape.
        let wrongSize = try file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,7]}}"#, data: [UInt8](repeating: 0, count: 8))
        assertFormatError(try SafetensorsFile(path: wrongSize), "span != shape") {
            if case let .tensorOutOfBounds(_, t, _) = $0 { t == "a" } else { false }
        }
        let reversed = try file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 8))
        assertFormatError(try SafetensorsFile(path: reversed), "begin > end") {
            if case .tensorOutOfBounds = $0 { true } else { false }
        }
        let negative = try file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#, data: [0])
        assertFormatError(try SafetensorsFile(path: negative), "negative offset") {
            if case .tensorOutOfBounds = $0 { true } else { false }
        }
        // An f32 tensor at an odd offset is legal but cannot be a view: it is copied.
        let odd = try file(#"{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}"#,
                           data: [9, 0, 0, 0x80, 0x3F, 0, 0, 0])
        let f = try SafetensorsFile(path: odd)
        XCTAssertEqual(try f.tensor("a").floats, [1.0])
    }

    func testAbsurdShapes() throws {
        let overflow = try file(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: overflow), "overflowing shape") {
            if case let .invalidShape(_, t, _) = $0 { t == "a" } else { false }
        }
        let bytesOverflow = try file(#"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: bytesOverflow), "byte count overflow") {
            if case .invalidShape = $0 { true } else { false }
        }
        let negative = try file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: negative), "negative dim") {
            if case .invalidShape = $0 { true } else { false }
        }
        let fractional = try file(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        assertFormatError(try SafetensorsFile(path: fractional), "fractional dim") {
            if case .invalidShape = $0 { true } else { false }
        }
        let hugeOffset = try file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1e30,1e30]}}"#, data: [0])
        assertFormatError(try SafetensorsFile(path: hugeOffset), "offset 1e30") { _ in true }
    }

    func testEveryTruncationOfAValidFileThrows() throws {
        let good = dir.appendingPathComponent("good.safetensors")
        try SafetensorsWriter.write([("a", Tensor(repeating: 1, shape: [4])), ("b", Tensor(repeating: 2, shape: [3]))],
                                    metadata: ["k": "v"], to: good)
        let bytes = try [UInt8](Data(contentsOf: good))
        for n in 0..<bytes.count {
            let url = dir.appendingPathComponent("cut.safetensors")
            try Data(bytes[0..<n]).write(to: url)
            assertFormatError(try SafetensorsFile(path: url.path), "cut at \(n)") { $0.file == url.path }
        }
    }
}
