// libFuzzer target: an mlx-lm adapter folder read for the tiny Llama model. The first input
// byte picks what is fuzzed: even, the rest is adapter_config.json (with valid weights); odd,
// the rest is adapters.safetensors (with a valid config). A loaded adapter is merged.
import Foundation
import Lorikeet
import FuzzSupport

let files: Fuzz.AdapterFiles = (config: "adapter_config.json", weights: "adapters.safetensors")
let valid = Fuzz.validAdapter("mlx-valid", files) { adapter, dir in try adapter.saveMLX(to: dir, baseModel: "tiny_llama", base: Fuzz.tinyModel.configuration) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMLXAdapter(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let dir = Fuzz.adapterFolder(Fuzz.data(bytes, size), "mlx", files, valid: valid) else { return 0 }
    Fuzz.loadAndMerge { try LoRAAdapter.loadMLX(from: dir, for: $0) }
    return 0
}

@_cdecl("FuzzMLXAdapter_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzMLXAdapter)
}
