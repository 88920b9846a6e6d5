// libFuzzer target: the quant_state JSON of a bitsandbytes 4-bit weight. The first input byte
// picks the stored companions (bit 0: NF4 or FP4, bit 1: plain or double-quantized absmax) of
// a valid [8, 64] weight; the rest replaces its quant_state.bitsandbytes__* tensor.
import Foundation
import Lorikeet
import FuzzSupport

/// The companions of a valid weight "w" for each of the four variants.
let variants: [[(String, Tensor)]] = (0..<4).map { i in
    var rng = SystemRandomNumberGenerator()
    var t = Tensor(uninitialized: [8, 64])
    t.withUnsafeMutableFloats { p in for j in p.indices { p[j] = Float.random(in: -1...1, using: &rng) } }
    let matrix = try! FourBitMatrix(quantizing: t, type: i & 1 == 0 ? .nf4 : .fp4, doubleQuant: i & 2 != 0)
    return try! BitsAndBytes4Bit.tensors(for: matrix, name: "w")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBnBQuantState(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = Fuzz.data(bytes, size)
    guard let mode = data.first else { return 0 }
    let json = Array(data.dropFirst())
    var state = Tensor(uninitialized: [json.count], dtype: .u8)
    state.withUnsafeMutableBytes { dst in json.withUnsafeBytes { dst.copyMemory(from: $0) } }
    let tensors = variants[Int(mode & 3)].map { name, t in (name, name.contains(".quant_state.") ? state : t) }
    let dir = Fuzz.folder("bnb")
    guard (try? SafetensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))) != nil,
          let folder = try? SafetensorsFolder(url: dir),
          let matrix = try? BitsAndBytes4Bit.matrix(named: "w", in: folder) else { return 0 }
    _ = matrix.dequantized()
    return 0
}

@_cdecl("FuzzBnBQuantState_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzBnBQuantState)
}
