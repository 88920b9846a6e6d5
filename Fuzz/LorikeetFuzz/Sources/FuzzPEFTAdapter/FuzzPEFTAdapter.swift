// libFuzzer target: a PEFT adapter folder read for the tiny Llama model. The first input byte
// picks what is fuzzed: even, the rest is adapter_config.json (with valid weights); odd, the
// rest is adapter_model.safetensors (with a valid config). A loaded adapter is merged.
import Foundation
import Lorikeet
import FuzzSupport

let files: Fuzz.AdapterFiles = (config: "adapter_config.json", weights: "adapter_model.safetensors")
let valid = Fuzz.validAdapter("peft-valid", files) { adapter, dir in try adapter.save(to: dir, baseModel: "tiny_llama") }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPEFTAdapter(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let dir = Fuzz.adapterFolder(Fuzz.data(bytes, size), "peft", files, valid: valid) else { return 0 }
    Fuzz.loadAndMerge { try LoRAAdapter.loadPEFT(from: dir, for: $0) }
    return 0
}

@_cdecl("FuzzPEFTAdapter_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzPEFTAdapter)
}
