// Fine-tunes a model with LoRA for a few steps through Lorikeet's library API, prints the loss
// of each step, then answers a question with the trained adapter.
//
//     swift run -c release FineTuneExample MODEL [DATA] [STEPS]
//
// MODEL is a Hugging Face folder or a GGUF file (e.g. the SmolLM2 test model that
// `bash scripts/fetch-smollm2.sh` prints); DATA defaults to the bundled examples/veloria.
import Foundation
import Lorikeet

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: FineTuneExample MODEL [DATA] [STEPS]\n".utf8))
    exit(2)
}
let data = arguments.count > 2 ? arguments[2] : "../veloria"
let steps = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3

do {
    // The model is inspected once; the run loads it from what was opened.
    let source = try ModelSource.open(arguments[1])

    var configuration = TrainingConfiguration()
    configuration.fineTuningMethod = .lora
    configuration.lora = LoRAConfiguration(rank: 8, alpha: 16, targets: ["all-linear"])
    configuration.learningRate = 1e-3
    configuration.batchSize = 4
    configuration.maxSequenceLength = 256
    configuration.maxSteps = steps

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-example-\(getpid())")
    defer { try? FileManager.default.removeItem(at: folder) }
    let run = try TrainingRun(model: .source(source), data: .path(data), directory: folder, configuration: configuration)
    let result = try run.run { event in
        if case let .training(.step(report)) = event {
            print(String(format: "step %d/%d: loss %.4f", report.step, report.totalSteps, report.loss))
        }
    }
    print("adapter written to \(result.output?.path ?? "-") (\(result.adapter?.parameterCount ?? 0) trainable weights)")

    // Generate with the adapter still attached to the trained network.
    guard let model = result.loaded else { exit(1) }
    let prompt = try model.renderChat([ChatMessage(role: "user", content: "What is the capital of Veloria?")])
    let ids = model.tokenizer.encode(prompt, addSpecialTokens: false)
    let answer = try model.model.generate(prompt: ids, maxNewTokens: 24, sampling: SamplingOptions(), stopTokens: model.stopTokenIDs)
    print("answer: " + model.tokenizer.decode(answer, skipSpecialTokens: true))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
