// `lorikeet chat`: an interactive, multi-turn conversation in the terminal.
import ArgumentParser
import Foundation
import Llama
import ChatTemplates

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal (/reset starts over, /adapter NAME|none switches adapters, /exit or Ctrl-D leaves).")

    @OptionGroup var model: ModelOption
    @OptionGroup var decode: DecodeOption
    @OptionGroup var adapter: AdapterOption
    @Option(help: "System message.") var system: String?
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let source = try model.open()
        let loaded = try decode.load(source)
        let adapters = try adapter.load(into: loaded.model)
        var messages: [ChatMessage] = []
        func reset() {
            messages = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
        }
        reset()
        print("Chatting with \(loaded.path)" + (adapters.isEmpty ? "" : " + adapter \(adapters[0].name)") + ". /reset starts over, /exit leaves.")
        while true {
            print("> ", terminator: "")
            flushStandardOutput()
            guard let line = readLine() else { print(); break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" { reset(); print("(conversation cleared)"); continue }
            if input.hasPrefix("/adapter") {
                let name = input.dropFirst("/adapter".count).trimmingCharacters(in: .whitespaces)
                if name == "none" {
                    loaded.model.adapters = [:]
                    print("(base model, no adapter)")
                } else if let found = adapters.first(where: { $0.name == name }) {
                    try found.adapter.attach(to: loaded.model)
                    print("(adapter \(name))")
                } else {
                    print("(adapters: \(adapters.map(\.name).joined(separator: ", ")), none)")
                }
                continue
            }
            messages.append(ChatMessage(role: "user", content: input))
            let prompt = loaded.tokenizer.encode(try loaded.renderChat(messages), addSpecialTokens: false)
            if prompt.count >= loaded.model.configuration.maxPositions {
                print("(the conversation is longer than the model's context; /reset to start over)")
                messages.removeLast()
                continue
            }
            let result = try streamCompletion(loaded, prompt: prompt, sampling: sampling, echo: true)
            print()
            messages.append(ChatMessage(role: "assistant", content: result.text))
        }
    }
}
