// libFuzzer target: a chat template parsed and rendered on a conversation with a system turn,
// tool calls and a tool list, under a small ChatTemplate.Limits budget; the same bytes are
// also read as a tokenizer_config.json.
import Foundation
import Lorikeet
import FuzzSupport

let messages: [TemplateValue] = [
    ["role": "system", "content": "You are terse."],
    ["role": "user", "content": "Hi <b>there</b> 🦜"],
    ["role": "assistant", "content": "", "tool_calls": [["type": "function", "function": ["name": "f", "arguments": ["x": 1]]]]],
    ["role": "tool", "content": "42", "name": "f"],
    ["role": "user", "content": [["type": "text", "text": "parts"], ["type": "image"]]],
]
let tools: [TemplateValue] = [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChatTemplate(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let source = String(decoding: Fuzz.data(bytes, size), as: UTF8.self)
    _ = try? ChatTemplate.fromTokenizerConfig(json: source)
    guard var template = try? ChatTemplate(source) else { return 0 }
    template.limits = ChatTemplate.Limits(steps: 50_000, outputBytes: 1 << 20)
    _ = try? template.render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>", tools: tools)
    _ = try? template.render(messages: [ChatMessage(role: "user", content: "x")], addGenerationPrompt: false,
                             bosToken: "", eosToken: "")
    return 0
}

@_cdecl("FuzzChatTemplate_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.run(argc, argv, fuzzChatTemplate)
}
