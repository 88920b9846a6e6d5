// Shared by the fuzz targets: the input as bytes, written to a per-process scratch file for
// parsers that take a path, split in two at a NUL (two files in one input), and the fixtures
// the inputs are read against (the tiny Llama model, the SmolLM2 tokenizer).
import Foundation
import Lorikeet
import CFuzzerDriver

/// Helpers for LLVMFuzzerTestOneInput bodies.
public enum Fuzz {
    /// The repository root (Fuzz/LorikeetFuzz/Sources/FuzzSupport/ is four folders below it).
    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A scratch folder of this process, made once.
    public static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-fuzz-\(getpid())")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// libFuzzer's driver over `callback` (LLVMFuzzerTestOneInput's signature); what a
    /// target's `<Target>_main` returns.
    public static func run(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, callback)
    }

    /// The fuzzer's input as Data (libFuzzer may pass a null pointer with size 0).
    public static func data(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Data {
        guard let bytes, size > 0 else { return Data() }
        return Data(bytes: bytes, count: size)
    }

    /// Writes `data` to `name` inside `folder` (default: the scratch folder) and returns its URL.
    @discardableResult
    public static func write(_ data: Data, _ name: String, in folder: URL = scratch) -> URL {
        let url = folder.appendingPathComponent(name)
        try! data.write(to: url)
        return url
    }

    /// A fresh, empty sub-folder of the scratch folder.
    public static func folder(_ name: String) -> URL {
        let url = scratch.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: url)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The bytes before the first NUL and, when there is one, those after it.
    public static func split(_ data: Data) -> (Data, Data?) {
        guard let i = data.firstIndex(of: 0) else { return (data, nil) }
        return (data[data.startIndex..<i], data[(i + 1)...])
    }

    /// The two files of an adapter folder (PEFT: adapter_config.json, adapter_model.safetensors).
    public typealias AdapterFiles = (config: String, weights: String)

    /// The bytes of a valid rank-4 all-linear adapter for the tiny model, saved once by `save`
    /// into the scratch sub-folder `name`.
    public static func validAdapter(_ name: String, _ files: AdapterFiles, save: (LoRAAdapter, URL) throws -> Void) -> (config: Data, weights: Data) {
        let dir = scratch.appendingPathComponent(name)
        let adapter = try! LoRAAdapter.create(for: tinyModel, configuration: LoRAConfiguration(rank: 4, alpha: 8, targets: ["all-linear"]), seed: 1)
        try! save(adapter, dir)
        return (try! Data(contentsOf: dir.appendingPathComponent(files.config)), try! Data(contentsOf: dir.appendingPathComponent(files.weights)))
    }

    /// An adapter folder with one file fuzzed: the input's first byte picks which (even: the
    /// config, odd: the weights), the rest is that file, and the other one is `valid`'s. Nil for
    /// an empty input.
    public static func adapterFolder(_ data: Data, _ name: String, _ files: AdapterFiles, valid: (config: Data, weights: Data)) -> URL? {
        guard let mode = data.first else { return nil }
        let rest = Data(data.dropFirst())
        let dir = folder(name)
        write(mode & 1 == 0 ? rest : valid.config, files.config, in: dir)
        write(mode & 1 == 0 ? valid.weights : rest, files.weights, in: dir)
        return dir
    }

    /// What every adapter target does with what it wrote: load it for the tiny model and merge
    /// whatever loads.
    public static func loadAndMerge(_ load: (LlamaModel) throws -> LoRAAdapter) {
        guard let adapter = try? load(tinyModel) else { return }
        _ = try? adapter.mergedWeights(of: tinyModel)
    }

    /// Text every tokenizer target encodes: ASCII, digits, special-token spellings, accents, emoji.
    public static let sampleText = "Hello, world!<|im_start|>user\n  123456 héllo 🦜\t<s> </s> [INST] end<|im_end|>"

    /// The tiny 2-layer Llama of Tests/LlamaTests/Fixtures/tiny_llama, loaded once.
    nonisolated(unsafe) public static let tinyModel: LlamaModel =
        try! ModelLoader.loadNetwork(folder: repoRoot.appendingPathComponent("Tests/LlamaTests/Fixtures/tiny_llama"))

    /// SmolLM2's tokenizer (Tests/TokenizersTests/Fixtures/smollm2), loaded once.
    nonisolated(unsafe) public static let smolTokenizer: any Tokenizer =
        try! TokenizerLoader.load(folder: repoRoot.appendingPathComponent("Tests/TokenizersTests/Fixtures/smollm2"))

    /// Exercises a loaded tokenizer the way a run does: encode (with and without special
    /// tokens), decode, look-ups at the edges of the id range.
    public static func exercise(_ tokenizer: any Tokenizer) {
        let ids = tokenizer.encode(sampleText, addSpecialTokens: true)
        _ = tokenizer.encode(sampleText, addSpecialTokens: false)
        _ = tokenizer.decode(ids, skipSpecialTokens: false)
        _ = tokenizer.decode(ids + [-1, tokenizer.vocabularySize, Int.max], skipSpecialTokens: true)
        for id in [0, tokenizer.vocabularySize - 1, tokenizer.vocabularySize] { _ = tokenizer.token(id) }
        _ = tokenizer.tokenID("<|im_end|>")
    }
}
