// `lorikeet chat`: an interactive, multi-turn conversation in the terminal.
import ArgumentParser
import Foundation
import Llama
import ChatTemplates

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal (type /reset to start over, /exit or Ctrl-D to leave).")

    @OptionGroup var model: ModelOption
    @Option(help: "System message.") var system: String?
    @OptionGroup var sampling: SamplingArguments
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let loaded = try ModelLoader.load(model.model)
        var messages: [ChatMessage] = []
        func reset() {
            messages = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
        }
        reset()
        print("Chatting with \(loaded.path). /reset starts over, /exit leaves.")
        while true {
            print("> ", terminator: "")
            flushStandardOutput()
            guard let line = readLine() else { print(); break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" { reset(); print("(conversation cleared)"); continue }
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
