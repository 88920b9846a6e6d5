// libFuzzer target: the tokenizer.ggml.* metadata of a GGUF file turned into a tokenizer
// (byte-level BPE or SentencePiece), then used to encode and decode.
import Foundation
import Lorikeet
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUFTokenizer(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = Fuzz.write(Fuzz.data(bytes, size), "tokenizer.gguf")
    guard let file = try? GGUFFile(path: url.path), let data = try? ModelLoader.tokenizerData(gguf: file),
          let tokenizer = try? TokenizerLoader.load(gguf: data) else { return 0 }
    Fuzz.exercise(tokenizer)
    return 0
}

@_cdecl("FuzzGGUFTokenizer_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzGGUFTokenizer)
}
