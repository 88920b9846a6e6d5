// libFuzzer target: tokenizer.json (before the first NUL) with an optional
// tokenizer_config.json (after it), loaded by TokenizerLoader, then used to encode and decode.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let (json, config) = Fuzz.split(Fuzz.data(bytes, size))
    guard let tokenizer = try? TokenizerLoader.load(tokenizerJSON: Data(json), config: config.map { Data($0) }) else { return 0 }
    Fuzz.exercise(tokenizer)
    return 0
}

@_cdecl("FuzzTokenizerJSON_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzTokenizerJSON)
}
