// The OpenAI HTTP API's request and response bodies as Lorikeet serves them (the fields of
// /v1/chat/completions and /v1/completions that a CPU server can honour), parsed by hand so a
// bad field is a 400 naming it, as OpenAI's and vLLM's errors do.
import Foundation
import Llama
import ChatTemplates

/// An error as the OpenAI API returns it: {"error": {"message", "type", "param", "code"}}.
public struct APIError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    static func invalid(_ message: String, param: String?, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// The JSON body.
    public var json: Data {
        let error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        return (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
    }
}

/// What a completion request asks for, whichever endpoint it came to.
struct CompletionParameters {
    var model: String
    var prompt: Prompt
    var maxTokens: Int?
    var temperature: Float
    var topP: Float
    var seed: UInt64
    var stop: [String]
    var stream: Bool
    var includeUsage: Bool

    enum Prompt {
        case chat([ChatMessage])
        case text(String)
    }

    /// Parses a request body; `chat` selects /v1/chat/completions' `messages` over `prompt`.
    init(json data: Data, chat: Bool) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data), let body = object as? [String: Any] else {
            throw APIError.invalid("the request body is not a JSON object", param: nil)
        }
        func string(_ key: String) throws -> String? {
            guard let v = body[key], !(v is NSNull) else { return nil }
            guard let s = v as? String else { throw APIError.invalid("'\(key)' must be a string", param: key) }
            return s
        }
        func number(_ key: String) throws -> Double? {
            guard let v = body[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, !Self.isBool(n) else {
                throw APIError.invalid("'\(key)' must be a number", param: key)
            }
            return n.doubleValue
        }
        func integer(_ key: String) throws -> Int? {
            guard let d = try number(key) else { return nil }
            guard d == d.rounded(), abs(d) < 1e15 else { throw APIError.invalid("'\(key)' must be an integer", param: key) }
            return Int(d)
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = body[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, Self.isBool(n) else { throw APIError.invalid("'\(key)' must be a boolean", param: key) }
            return n.boolValue
        }
        guard let model = try string("model") else { throw APIError.invalid("'model' is required", param: "model") }
        self.model = model
        if chat {
            guard let raw = body["messages"] else { throw APIError.invalid("'messages' is required", param: "messages") }
            guard let list = raw as? [Any], !list.isEmpty else { throw APIError.invalid("'messages' must be a non-empty array", param: "messages") }
            var messages: [ChatMessage] = []
            for (i, item) in list.enumerated() {
                guard let m = item as? [String: Any], let role = m["role"] as? String else {
                    throw APIError.invalid("messages[\(i)] must be an object with a string 'role'", param: "messages[\(i)].role")
                }
                let content: String
                switch m["content"] {
                case let s as String: content = s
                case let parts as [Any]:
                    // Text parts joined; a CPU text model has no use for images.
                    content = try parts.enumerated().map { j, part in
                        guard let p = part as? [String: Any], p["type"] as? String == "text", let t = p["text"] as? String else {
                            throw APIError.invalid("messages[\(i)].content[\(j)] must be a text part", param: "messages[\(i)].content")
                        }
                        return t
                    }.joined()
                case nil, is NSNull: content = ""
                default: throw APIError.invalid("messages[\(i)].content must be a string or an array of text parts", param: "messages[\(i)].content")
                }
                messages.append(ChatMessage(role: role, content: content))
            }
            prompt = .chat(messages)
        } else {
            switch body["prompt"] {
            case let s as String: prompt = .text(s)
            case let list as [Any] where list.count == 1 && list[0] is String: prompt = .text(list[0] as! String)
            case nil: throw APIError.invalid("'prompt' is required", param: "prompt")
            default: throw APIError.invalid("'prompt' must be a string (one prompt per request)", param: "prompt")
            }
        }
        maxTokens = try integer("max_completion_tokens") ?? integer("max_tokens")
        if let m = maxTokens, m < 1 { throw APIError.invalid("'max_tokens' must be at least 1", param: "max_tokens") }
        temperature = Float(try number("temperature") ?? 1)
        guard temperature >= 0, temperature <= 2 else { throw APIError.invalid("'temperature' must be between 0 and 2", param: "temperature") }
        topP = Float(try number("top_p") ?? 1)
        guard topP > 0, topP <= 1 else { throw APIError.invalid("'top_p' must be in (0, 1]", param: "top_p") }
        let s = try integer("seed")
        seed = UInt64(bitPattern: Int64(s ?? Int(UInt32.random(in: 0...UInt32.max))))
        if let n = try integer("n"), n != 1 { throw APIError.invalid("only n = 1 is supported", param: "n") }
        switch body["stop"] {
        case nil, is NSNull: stop = []
        case let one as String: stop = [one]
        case let list as [Any]:
            guard let texts = list as? [String], texts.count <= 4 else {
                throw APIError.invalid("'stop' must be a string or up to 4 strings", param: "stop")
            }
            stop = texts.filter { !$0.isEmpty }
        default: throw APIError.invalid("'stop' must be a string or up to 4 strings", param: "stop")
        }
        stream = try bool("stream") ?? false
        switch body["stream_options"] {
        case nil, is NSNull: includeUsage = false
        case let o as [String: Any]:
            if let v = o["include_usage"], !(v is NSNull) {
                guard let n = v as? NSNumber, Self.isBool(n) else {
                    throw APIError.invalid("'stream_options.include_usage' must be a boolean", param: "stream_options.include_usage")
                }
                includeUsage = n.boolValue
            } else {
                includeUsage = false
            }
        default: throw APIError.invalid("'stream_options' must be an object", param: "stream_options")
        }
    }

    /// JSON's true and false (JSONSerialization gives them as NSNumbers of type "c", numbers as others).
    static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// Sampling as Lorikeet's sampler takes it (temperature 0 = greedy).
    var sampling: SamplingOptions { SamplingOptions(temperature: temperature, topP: topP, seed: seed) }
}

/// JSON for responses.
enum JSON {
    static func data(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
