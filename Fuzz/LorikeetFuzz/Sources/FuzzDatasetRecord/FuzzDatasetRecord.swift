// libFuzzer target: each line of the input read as a dataset JSONL record, then encoded with
// SmolLM2's tokenizer and ChatML template as training does (targets masked per turn).
import Foundation
import Lorikeet
import FuzzSupport

let encoder: DatasetEncoder = {
    let config = try! String(contentsOf: Fuzz.repoRoot.appendingPathComponent("Tests/TokenizersTests/Fixtures/smollm2/tokenizer_config.json"), encoding: .utf8)
    let (template, bos, eos) = try! ChatTemplate.fromTokenizerConfig(json: config)
    return DatasetEncoder(tokenizer: Fuzz.smolTokenizer, chatTemplate: template, bosToken: bos ?? "", eosToken: eos ?? "")
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatasetRecord(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: Fuzz.data(bytes, size), as: UTF8.self)
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16).enumerated() {
        let location = DatasetLocation(file: "fuzz.jsonl", line: i + 1)
        guard let record = try? DatasetRecord(jsonLine: String(line), location: location) else { continue }
        _ = try? encoder.encode(record, location: location)
    }
    return 0
}

@_cdecl("FuzzDatasetRecord_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzDatasetRecord)
}
