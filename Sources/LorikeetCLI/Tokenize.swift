// `lorikeet tokenize`: the token ids of a text as the model's tokenizer produces them.
import ArgumentParser
import Foundation
import Llama
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @OptionGroup var model: ModelOption
    @Option(help: "The text to tokenize.") var text: String?
    @Option(help: "A file whose contents to tokenize.") var file: String?
    @Flag(name: .customLong("no-special"), help: "Do not add BOS/EOS.") var noSpecial = false
    @Flag(help: "Print JSON: ids, tokens, count.") var json = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give exactly one of --text or --file") }
    }

    func run() throws {
        let source: String
        if let text { source = text } else {
            guard let d = FileManager.default.contents(atPath: file!) else { throw CommandFailure("\(file!): cannot be read") }
            source = String(decoding: d, as: UTF8.self)
        }
        let tokenizer = try loadTokenizerOnly(resolveModel(model.model).path)
        let ids = tokenizer.encode(source, addSpecialTokens: !noSpecial)
        if json {
            let obj: [String: Any] = ["ids": ids, "tokens": ids.map { tokenizer.token($0) ?? "" }, "count": ids.count]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

/// The tokenizer of a model folder or GGUF, without loading the weights.
func loadTokenizerOnly(_ path: String) throws -> any Tokenizer {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CommandFailure("\(path) does not exist") }
    if isDir.boolValue { return try TokenizerLoader.load(folder: URL(fileURLWithPath: path)) }
    return try TokenizerLoader.load(gguf: ModelLoader.tokenizerData(gguf: GGUFFile(path: path)))
}

import ModelFormats
