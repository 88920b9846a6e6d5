// libFuzzer target: a safetensors file (header length, JSON header, dtypes, shapes, offsets),
// then every tensor read in its stored dtype and widened to float32.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = Fuzz.write(Fuzz.data(bytes, size), "input.safetensors")
    guard let file = try? SafetensorsFile(path: url.path) else { return 0 }
    _ = file.metadata.count
    for name in file.names.prefix(64) {
        guard let t = try? file.tensor(name) else { continue }
        _ = t.widened().floats.reduce(0, +)
    }
    return 0
}

@_cdecl("FuzzSafetensors_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzSafetensors)
}
