// libFuzzer target: an mlx-lm adapter folder read for the tiny Llama model. The first input
// byte picks what is fuzzed: even, the rest is adapter_config.json (with valid weights); odd,
// the rest is adapters.safetensors (with a valid config). A loaded adapter is merged.
import Foundation
import Lorikeet
import FuzzSupport

/// A valid rank-4 all-linear adapter for the tiny model, saved once; its two files' bytes.
let valid: (config: Data, weights: Data) = {
    let dir = Fuzz.scratch.appendingPathComponent("mlx-valid")
    let adapter = try! LoRAAdapter.create(for: Fuzz.tinyModel, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 1)
    try! adapter.saveMLX(to: dir, baseModel: "tiny_llama", base: Fuzz.tinyModel.configuration)
    return (try! Data(contentsOf: dir.appendingPathComponent("adapter_config.json")),
            try! Data(contentsOf: dir.appendingPathComponent("adapters.safetensors")))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMLXAdapter(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let data = Fuzz.data(bytes, size)
    guard let mode = data.first else { return 0 }
    let rest = Data(data.dropFirst())
    let dir = Fuzz.folder("mlx")
    Fuzz.write(mode & 1 == 0 ? rest : valid.config, "adapter_config.json", in: dir)
    Fuzz.write(mode & 1 == 0 ? valid.weights : rest, "adapters.safetensors", in: dir)
    guard let adapter = try? LoRAAdapter.loadMLX(from: dir, for: Fuzz.tinyModel) else { return 0 }
    _ = try? adapter.mergedWeights(of: Fuzz.tinyModel)
    return 0
}

@_cdecl("FuzzMLXAdapter_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzMLXAdapter)
}
