// libFuzzer target: a GGUF LoRA adapter (llama.cpp's layout) read for the tiny Llama model;
// a loaded adapter is merged.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUFAdapter(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = Fuzz.write(Fuzz.data(bytes, size), "adapter.gguf")
    guard let adapter = try? LoRAAdapter.loadGGUF(from: url, for: Fuzz.tinyModel) else { return 0 }
    _ = try? adapter.mergedWeights(of: Fuzz.tinyModel)
    return 0
}

@_cdecl("FuzzGGUFAdapter_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzGGUFAdapter)
}
