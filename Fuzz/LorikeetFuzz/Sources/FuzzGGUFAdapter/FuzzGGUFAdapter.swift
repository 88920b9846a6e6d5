// libFuzzer target: a GGUF LoRA adapter (llama.cpp's layout) read for the tiny Llama model;
// a loaded adapter is merged.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUFAdapter(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = Fuzz.write(Fuzz.data(bytes, size), "adapter.gguf")
    Fuzz.loadAndMerge { try LoRAAdapter.loadGGUF(from: url, for: $0) }
    return 0
}

@_cdecl("FuzzGGUFAdapter_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzGGUFAdapter)
}
