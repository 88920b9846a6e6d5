// libFuzzer target: a Hugging Face config.json read into a LlamaConfiguration.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFConfig(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if let c = try? LlamaConfiguration(json: Fuzz.data(bytes, size), source: "config.json") { _ = c.hiddenSize }
    return 0
}

@_cdecl("FuzzHFConfig_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzHFConfig)
}
