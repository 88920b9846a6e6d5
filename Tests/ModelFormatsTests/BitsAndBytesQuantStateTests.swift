// A bitsandbytes 4-bit weight whose quant_state JSON is hostile (found by review and by
// Fuzz/LorikeetFuzz's FuzzBnBQuantState): every bad field is a FormatError naming the tensor,
// never a trap. The companions are those of a valid [8, 64] weight; only the JSON changes.
import Foundation
import XCTest
import TensorCore
import Quantization
@testable import ModelFormats

final class BitsAndBytesQuantStateTests: XCTestCase {
    /// A folder holding weight "w" (NF4, double-quantized absmax) with `state` as its quant_state.
    func folder(state json: String) throws -> SafetensorsFolder {
        var t = Tensor(uninitialized: [8, 64])
        t.withUnsafeMutableFloats { p in for i in p.indices { p[i] = Float(i % 13) - 6 } }
        let matrix = try FourBitMatrix(quantizing: t, type: .nf4, doubleQuant: true)
        let bytes = Array(json.utf8)
        let tensors = try BitsAndBytes4Bit.tensors(for: matrix, name: "w").map { name, value in
            (name, name.contains(".quant_state.") ? BitsAndBytes4Bit.bytesTensor(bytes, shape: [bytes.count]) : value)
        }
        let dir = try makeTemporaryDirectory(self)
        try SafetensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        return try SafetensorsFolder(url: dir)
    }

    func testValidStateLoads() throws {
        let f = try folder(state: #"{"quant_type": "nf4", "blocksize": 64, "shape": [8, 64], "nested_blocksize": 256, "nested_offset": 0.5}"#)
        XCTAssertEqual(try BitsAndBytes4Bit.matrix(named: "w", in: f).rows, 8)
    }

    /// nested_blocksize near Int.max overflowed `(codes + blockSize - 1) / blockSize` (a trap).
    /// Such a size is one second-level block over all 8 codes, as 256 is here: it loads, and
    /// to the same matrix.
    func testHugeNestedBlockSizeIsOneBlock() throws {
        let state = { (size: Int) in #"{"quant_type": "nf4", "blocksize": 64, "shape": [8, 64], "nested_blocksize": \#(size), "nested_offset": 0.5}"# }
        let reference = try BitsAndBytes4Bit.matrix(named: "w", in: folder(state: state(256))).dequantized().floats
        for size in [Int.max, Int.max - 3, 1 << 62] {
            let m = try BitsAndBytes4Bit.matrix(named: "w", in: folder(state: state(size)))
            XCTAssertEqual(m.dequantized().floats, reference, "nested_blocksize \(size)")
        }
    }

    /// A second-level block size that does not fit the stored scales is an error naming them.
    func testMismatchedNestedBlockSizeThrows() throws {
        let f = try folder(state: #"{"quant_type": "nf4", "blocksize": 64, "shape": [8, 64], "nested_blocksize": 2, "nested_offset": 0.5}"#)
        assertFormatError(try BitsAndBytes4Bit.matrix(named: "w", in: f), "nested_blocksize 2") {
            if case .invalidTensor(_, "w.nested_absmax", _) = $0 { true } else { false }
        }
    }

    func testBadNestedBlockSizesThrow() throws {
        for size in [0, -1, Int.min] {
            let f = try folder(state: #"{"quant_type": "nf4", "blocksize": 64, "shape": [8, 64], "nested_blocksize": \#(size), "nested_offset": 0.5}"#)
            assertFormatError(try BitsAndBytes4Bit.matrix(named: "w", in: f), "nested_blocksize \(size)") {
                if case .invalidTensor(_, "w.nested_absmax", _) = $0 { true } else { false }
            }
        }
    }
}
