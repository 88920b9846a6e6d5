// libFuzzer target: a GGUF file (header, metadata, tensor infos), then every tensor read
// against its declared type (views, widening, dequantization) and the model configuration
// read from its metadata.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = Fuzz.write(Fuzz.data(bytes, size), "input.gguf")
    guard let file = try? GGUFFile(path: url.path) else { return 0 }
    for key in file.metadataKeys { _ = file[key]?.description }
    _ = file.architecture
    _ = try? ModelLoader.configuration(gguf: file)
    for info in file.tensorInfos.prefix(64) {
        if let t = try? file.tensor(named: info.name) { _ = t.floats.reduce(0, +) }
        _ = try? file.rawTensor(named: info.name)
    }
    return 0
}

@_cdecl("FuzzGGUF_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzGGUF)
}
