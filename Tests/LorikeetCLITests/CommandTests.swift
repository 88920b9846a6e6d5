// The command-line tool driven in-process (ArgumentParser's parse on argument arrays) on a
// tiny random Llama with a real BPE tokenizer: train → stop as Ctrl-C does → resume
// bit-identical → eval → merge → generate; the precedence of flags over YAML over a saved run;
// the memory check with the optimizer the run really uses; every setting has one flag.
import XCTest
import Foundation
@testable import LorikeetCLI
import TensorCore
import ModelFormats
import Llama
import FineTuning

final class CommandTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var work: URL!
    var model: URL { work.appendingPathComponent("tiny") }
    var data: URL { work.appendingPathComponent("data") }

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // A tiny random model (2 layers, width 64) whose vocabulary is the GPT-2-style test tokenizer's.
        let tokenizerJSON = Self.repoRoot.appendingPathComponent("Tests/TokenizersTests/Fixtures/bpe_gpt2.json")
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizerJSON)) as! [String: Any]
        let vocab = ((spec["model"] as! [String: Any])["vocab"] as! [String: Int]).values.max()! + 1
        let addedMax = (spec["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }.max() ?? 0
        let config = LlamaConfiguration(vocabularySize: max(vocab, addedMax + 1), hiddenSize: 64, intermediateSize: 128, layerCount: 2,
                                        attentionHeads: 4, kvHeads: 2, headDim: 16, rmsNormEps: 1e-5, ropeTheta: 10_000,
                                        maxPositions: 256, tieWordEmbeddings: false, eosTokenIDs: [])
        let network = try LlamaModel.random(config, seed: 5, std: 0.05)
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try ModelExport.writeNetwork(weights: network.parameters.mapValues(\.value), configuration: config, into: model)
        try FileManager.default.copyItem(at: tokenizerJSON, to: model.appendingPathComponent("tokenizer.json"))
        let sentences = ["the quick brown fox jumps over the lazy dog", "a lorikeet is a small colourful parrot",
                         "port amarel is the capital of veloria", "swift code runs on the cpu", "loss falls as the model learns"]
        let train = (0..<24).map { "{\"text\": \"\(sentences[$0 % sentences.count]) \($0)\"}" }.joined(separator: "\n")
        let valid = (0..<4).map { "{\"text\": \"\(sentences[$0])\"}" }.joined(separator: "\n")
        try train.write(to: data.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        try valid.write(to: data.appendingPathComponent("valid.jsonl"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    /// Parses and runs a subcommand of `lorikeet` as the shell would, returning what it printed.
    @discardableResult
    func lorikeet(_ arguments: [String]) throws -> String {
        var command = try LorikeetCommand.parseAsRoot(arguments)
        return try captureStandardOutput { try command.run() }
    }

    func trainArguments(_ run: URL) -> [String] {
        ["train", "--model", model.path, "--data", data.path, "--out", run.path, "--quiet", "--threads", "2",
         "--rank", "4", "--alpha", "8", "--targets", "all-linear", "--dropout", "0.1", "--learning-rate", "3e-2",
         "--batch-size", "4", "--max-steps", "12", "--save-every", "5", "--warmup", "2", "--seed", "7"]
    }

    func losses(_ run: URL) throws -> [Double] {
        try MetricsLog.read(from: run.appendingPathComponent("metrics.jsonl")).filter { $0.kind == MetricRecord.train }.map(\.loss)
    }

    func testTrainStopResumeEvalMergeGenerate() throws {
        // Uninterrupted.
        let straight = work.appendingPathComponent("straight")
        try lorikeet(trainArguments(straight) + ["--no-token-cache"])
        let reference = try losses(straight)
        XCTAssertEqual(reference.count, 12)
        XCTAssertFalse(FileManager.default.fileExists(atPath: straight.appendingPathComponent("tokenized").path))

        // Stopped after step 4 (the Ctrl-C path: checkpoint, then leave), then resumed from the saved settings only.
        let stopped = work.appendingPathComponent("stopped")
        let out = try lorikeet(trainArguments(stopped) + ["--stop-after", "6"])
        XCTAssertTrue(out.contains("stopped at step 6"), out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stopped.appendingPathComponent("adapter").path))
        XCTAssertEqual(try losses(stopped).count, 6)
        // The resumed run reads the tokens the first one cached (the split folders are not remade),
        // and computes what the uncached straight run computed.
        func folderIDs() throws -> [Int] {
            try ["train", "valid"].map {
                try XCTUnwrap(FileManager.default.attributesOfItem(atPath: stopped.appendingPathComponent("tokenized/\($0)").path)[.systemFileNumber] as? Int)
            }
        }
        let cached = try folderIDs()
        try lorikeet(["train", "--model", model.path, "--data", data.path, "--out", stopped.path, "--quiet", "--resume"])
        XCTAssertEqual(try folderIDs(), cached, "resume must read the token cache, not tokenize again")
        XCTAssertEqual(try losses(stopped), reference, "resumed losses must be bit-identical")
        let adapter = stopped.appendingPathComponent("adapter")
        XCTAssertEqual(try Data(contentsOf: adapter.appendingPathComponent("adapter_model.safetensors")),
                       try Data(contentsOf: straight.appendingPathComponent("adapter/adapter_model.safetensors")))

        // Eval: the adapter lowers the loss on text it trained on.
        let validFile = data.appendingPathComponent("valid.jsonl").path
        func evalLoss(_ extra: [String]) throws -> Double {
            let json = try lorikeet(["eval", "--model", model.path, "--data", validFile, "--json"] + extra)
            let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            return obj["loss"] as! Double
        }
        let base = try evalLoss([]), tuned = try evalLoss(["--adapter", adapter.path])
        XCTAssertLessThan(tuned, base * 0.9, "eval loss \(base) → \(tuned)")

        // Merge, then the merged model generates what base + adapter generates (greedy).
        let merged = work.appendingPathComponent("merged")
        try lorikeet(["merge", "--model", model.path, "--adapter", adapter.path, "--out", merged.path])
        XCTAssertEqual(try evalLoss(["--model", merged.path]).rounded(toPlaces: 4), tuned.rounded(toPlaces: 4))
        func generated(_ extra: [String]) throws -> [Int] {
            let json = try lorikeet(["generate", "--prompt", "the quick brown", "--max-tokens", "8", "--json"] + extra)
            let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
            return obj["tokens"] as! [Int]
        }
        let viaAdapter = try generated(["--model", model.path, "--adapter", adapter.path])
        XCTAssertEqual(viaAdapter.count, 8)
        XCTAssertEqual(try generated(["--model", merged.path]), viaAdapter)
    }

    func testDamagedCheckpointsAreFoundByNameAndResumeFallsBack() throws {
        let straight = work.appendingPathComponent("straight")
        try lorikeet(trainArguments(straight))
        let reference = try losses(straight)
        let run = work.appendingPathComponent("run")
        try lorikeet(trainArguments(run) + ["--stop-after", "7"])   // checkpoints after steps 5 and 7
        let newest = Checkpoint.folder(run: run, step: 7)
        XCTAssertTrue(FileManager.default.fileExists(atPath: newest.appendingPathComponent("manifest.json").path))
        XCTAssertNoThrow(try Checkpoint.verify(newest))
        // A flipped byte in the optimizer state of the newest: named, then skipped with a note.
        let optimizer = newest.appendingPathComponent("optimizer.safetensors")
        var bytes = try Data(contentsOf: optimizer)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: optimizer)
        XCTAssertThrowsError(try Checkpoint.verify(newest)) { XCTAssertTrue("\($0)".contains("optimizer.safetensors") && "\($0)".contains("SHA-256"), "\($0)") }
        let out = try lorikeet(["train", "--model", model.path, "--data", data.path, "--out", run.path, "--resume"])
        XCTAssertTrue(out.contains("skipping damaged checkpoint step-0000007") && out.contains("step-0000005"), out)
        XCTAssertEqual(try losses(run), reference, "resumed from step 5: still bit-identical")
        // Truncated and missing files are named too.
        let ten = Checkpoint.folder(run: run, step: 10)
        let state = ten.appendingPathComponent("trainer_state.json")
        try Data(try Data(contentsOf: state).prefix(10)).write(to: state)
        XCTAssertThrowsError(try Checkpoint.verify(ten)) { XCTAssertTrue("\($0)".contains("trainer_state.json") && "\($0)".contains("truncated"), "\($0)") }
        try FileManager.default.removeItem(at: ten.appendingPathComponent("adapter/adapter_config.json"))
        XCTAssertThrowsError(try Checkpoint.verify(ten)) { XCTAssertTrue("\($0)".contains("adapter_config.json") && "\($0)".contains("missing"), "\($0)") }
    }

    func testAnExistingRunOrAnUnwritableFolderIsRefusedBeforeTraining() throws {
        let run = work.appendingPathComponent("run")
        try lorikeet(Array(trainArguments(run).dropLast(8)) + ["--max-steps", "2"])
        let adapterFile = run.appendingPathComponent("adapter/adapter_model.safetensors")
        let before = try Data(contentsOf: adapterFile)
        XCTAssertThrowsError(try lorikeet(Array(trainArguments(run).dropLast(8)) + ["--max-steps", "3", "--seed", "9"])) { e in
            XCTAssertTrue("\(e)".contains("already holds a run") && "\(e)".contains("--resume") && "\(e)".contains("adapter"), "\(e)")
        }
        XCTAssertEqual(try Data(contentsOf: adapterFile), before, "nothing overwritten")
        XCTAssertEqual(try losses(run).count, 2)
        // A path under a regular file cannot become a run folder.
        let file = work.appendingPathComponent("plain.txt")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try lorikeet(trainArguments(file.appendingPathComponent("run")))) { e in
            XCTAssertTrue("\(e)".contains("plain.txt is not a folder"), "\(e)")
        }
    }

    /// Disk full while a checkpoint is written (a tmpfs just big enough for the first): a clear
    /// "No space left" error naming the checkpoint, the previous one intact and nothing partial left.
    func testDiskFullWhileCheckpointingKeepsThePreviousCheckpoint() throws {
        // How much one run folder with one checkpoint takes here.
        let probe = work.appendingPathComponent("probe")
        try lorikeet(Array(trainArguments(probe).dropLast(8)) + ["--max-steps", "1", "--save-every", "1"])
        let one = try Self.bytes(below: probe.appendingPathComponent("checkpoints"))
        let mountPoint = work.appendingPathComponent("small-disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        // Room for the run's small files, one checkpoint and half of a second.
        let size = (one * 3 / 2 + 64 * 1024 + 4095) / 4096 * 4096
        guard Self.shell("mount -t tmpfs -o size=\(size) tmpfs '\(mountPoint.path)'") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root in a sandbox that allows it)")
        }
        defer { _ = Self.shell("umount '\(mountPoint.path)'") }
        let run = mountPoint.appendingPathComponent("run")
        XCTAssertThrowsError(try lorikeet(Array(trainArguments(run).dropLast(8)) + ["--max-steps", "4", "--save-every", "1", "--keep-checkpoints", "3"])) { e in
            XCTAssertTrue("\(e)".contains("No space left on device") && "\(e)".contains("step-0000002") && "\(e)".contains("step-0000001 is intact"), "\(e)")
        }
        XCTAssertEqual(Checkpoint.all(run: run).map(\.lastPathComponent), ["step-0000001"])
        XCTAssertNoThrow(try Checkpoint.verify(Checkpoint.folder(run: run, step: 1)))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path)
        XCTAssertEqual(leftovers, ["step-0000001"], "no partial folder left")
    }

    /// Disk full while an adapter is exported or a model merged (a 16 KiB tmpfs): a clear "No
    /// space left" error naming the file, the file already at that name untouched, no partial
    /// file under the final name and no temporary file left beside it.
    func testDiskFullWhileExportingOrMergingKeepsTheOldFile() throws {
        let run = work.appendingPathComponent("run")
        try lorikeet(Array(trainArguments(run).dropLast(8)) + ["--max-steps", "2", "--save-every", "0"])
        let adapter = run.appendingPathComponent("adapter").path
        let mountPoint = work.appendingPathComponent("tiny-disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        guard Self.shell("mount -t tmpfs -o size=16k tmpfs '\(mountPoint.path)'") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root in a sandbox that allows it)")
        }
        defer { _ = Self.shell("umount '\(mountPoint.path)'") }
        for (name, command) in [("adapter.gguf", ["export", "--model", model.path, "--adapter", adapter, "--format", "gguf", "--dtype", "f32"]),
                                ("merged.gguf", ["merge", "--model", model.path, "--adapter", adapter, "--format", "gguf", "--quant", "f32"])] {
            let out = mountPoint.appendingPathComponent(name)
            try Data("old".utf8).write(to: out)
            XCTAssertThrowsError(try lorikeet(command + ["--out", out.path])) { e in
                XCTAssertTrue("\(e)".contains("No space left on device") && "\(e)".contains(name), "\(e)")
            }
            XCTAssertEqual(try Data(contentsOf: out), Data("old".utf8), "\(name): the file already there is untouched")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint.path).sorted(),
                           ["adapter.gguf", "merged.gguf"].filter { $0 <= name }, "\(name): no temporary file left")
        }
        // A merged folder: nothing under the final name when the weights do not fit.
        let folder = mountPoint.appendingPathComponent("merged")
        XCTAssertThrowsError(try lorikeet(["merge", "--model", model.path, "--adapter", adapter, "--out", folder.path])) { e in
            XCTAssertTrue("\(e)".contains("No space left on device"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint.path).sorted(), ["adapter.gguf", "merged.gguf"])
    }

    static func bytes(below dir: URL) throws -> Int {
        try (FileManager.default.subpaths(atPath: dir.path) ?? []).reduce(0) { total, path in
            total + ((try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(path).path)[.size] as? NSNumber)?.intValue ?? 0)
        }
    }

    static func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>/dev/null"]
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// The `lorikeet` binary killed with SIGKILL at random instants (checkpoint writes included)
    /// and started again with --resume until the run is done: every restart works, and the
    /// losses are bit-identical to an uninterrupted run. LORIKEET_KILLS sets how many kills
    /// (default 50; scripts/kill-test.sh runs more).
    func testKilledAtRandomInstantsResumesBitIdentically() throws {
        let binary = Self.repoRoot.appendingPathComponent(".build/release/lorikeet")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("no release binary at \(binary.path)") }
        let kills = Int(ProcessInfo.processInfo.environment["LORIKEET_KILLS"] ?? "") ?? 50
        let arguments = Array(trainArguments(work.appendingPathComponent("x")).dropFirst().dropLast(8))
            .filter { $0 != "--quiet" } + ["--max-steps", "400", "--save-every", "1", "--keep-checkpoints", "2", "--quiet"]
        func args(_ out: URL) -> [String] {
            var a = ["train"] + arguments
            a[a.firstIndex(of: "--out")! + 1] = out.path
            return a
        }
        let straight = work.appendingPathComponent("straight")
        XCTAssertEqual(Self.run(binary, args(straight)).status, 0)
        let reference = try losses(straight)
        XCTAssertEqual(reference.count, 400)

        // Episodes of kill → resume until the run finishes, each in a fresh folder, until `kills` kills landed.
        var generator = SystemRandomNumberGenerator()
        var killed = 0, episode = 0
        while killed < kills && episode < 20 {
            episode += 1
            let run = work.appendingPathComponent("killed-\(episode)")
            var finished = false, attempts = 0, killedHere = 0
            while !finished && attempts < 4 * kills {
                attempts += 1
                let resume = !Checkpoint.all(run: run).isEmpty
                let delay = killed < kills ? Double.random(in: 0.02...0.12, using: &generator) : nil
                let (status, signalled) = Self.run(binary, args(run) + (resume ? ["--resume"] : []), killAfter: delay)
                if signalled { killed += 1; killedHere += 1; continue }
                XCTAssertEqual(status, 0, "episode \(episode): restart \(attempts) failed")
                finished = status == 0
            }
            XCTAssertTrue(finished, "episode \(episode) never finished")
            let got = try losses(run)
            let firstDifference = zip(got, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertEqual(got.count, reference.count, "episode \(episode): records after \(killedHere) kills")
            XCTAssertNil(firstDifference, "episode \(episode): after \(killedHere) kills the losses first differ at step \((firstDifference ?? -2) + 1)")
            XCTAssertEqual(try Data(contentsOf: run.appendingPathComponent("adapter/adapter_model.safetensors")),
                           try Data(contentsOf: straight.appendingPathComponent("adapter/adapter_model.safetensors")), "episode \(episode)")
            if firstDifference != nil || got.count != reference.count, let keep = ProcessInfo.processInfo.environment["LORIKEET_KEEP_FAILED_RUN"] {
                try? FileManager.default.copyItem(at: work, to: URL(fileURLWithPath: keep))
            }
            try? FileManager.default.removeItem(at: run)
        }
        XCTAssertGreaterThanOrEqual(killed, kills, "kills that landed while a run was going")
    }

    /// Runs `binary` with `arguments` (output discarded); with `killAfter`, sends SIGKILL after
    /// that many seconds if it is still running. Returns its exit status and whether it was killed.
    static func run(_ binary: URL, _ arguments: [String], killAfter: Double? = nil) -> (status: Int32, killed: Bool) {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return (-1, false) }
        if let killAfter {
            let deadline = Date().addingTimeInterval(killAfter)
            while p.isRunning && Date() < deadline { usleep(2000) }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                return (p.terminationStatus, true)
            }
        }
        p.waitUntilExit()
        return (p.terminationStatus, false)
    }

    func testExportToLlamaCppOllamaAndMLXAndBack() throws {
        let run = work.appendingPathComponent("run")
        try lorikeet(Array(trainArguments(run).dropLast(8)) + ["--max-steps", "6", "--seed", "7"])
        let adapter = run.appendingPathComponent("adapter").path
        let validFile = data.appendingPathComponent("valid.jsonl").path
        func evalLoss(_ model: String, _ extra: [String] = []) throws -> Double {
            let json = try lorikeet(["eval", "--model", model, "--data", validFile, "--json"] + extra)
            return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any])["loss"] as! Double
        }
        let base = try evalLoss(model.path), tuned = try evalLoss(model.path, ["--adapter", adapter])
        XCTAssertLessThan(tuned, base * 0.95)
        func file(_ name: String) -> String { work.appendingPathComponent(name).path }

        // A GGUF adapter and an mlx-lm folder compute the adapter's loss; both convert back to PEFT.
        try lorikeet(["export", "--model", model.path, "--adapter", adapter, "--format", "gguf", "--out", file("a.gguf")])
        XCTAssertEqual(try evalLoss(model.path, ["--adapter", file("a.gguf")]), tuned, accuracy: 1e-5 * tuned)
        try lorikeet(["export", "--model", model.path, "--adapter", adapter, "--format", "mlx", "--out", file("mlx")])
        XCTAssertEqual(try evalLoss(model.path, ["--adapter", file("mlx")]), tuned, accuracy: 1e-5 * tuned)
        try lorikeet(["export", "--model", model.path, "--adapter", file("mlx"), "--format", "peft", "--out", file("peft")])
        XCTAssertEqual(try evalLoss(model.path, ["--adapter", file("peft")]), tuned, accuracy: 1e-5 * tuned)

        // Ollama: the folder base becomes model.gguf next to adapter.gguf; no chat template, so ChatML's TEMPLATE.
        let printed = try lorikeet(["export", "--model", model.path, "--adapter", adapter, "--format", "ollama", "--out", file("ollama")])
        XCTAssertTrue(printed.contains("ollama create run -f \(file("ollama"))/Modelfile"), printed)
        let modelfile = try String(contentsOfFile: file("ollama/Modelfile"), encoding: .utf8)
        XCTAssertTrue(modelfile.hasPrefix("FROM ./model.gguf\nADAPTER ./adapter.gguf\n"), modelfile)
        XCTAssertTrue(modelfile.contains("PARAMETER stop \"<|im_end|>\""), modelfile)
        XCTAssertTrue(modelfile.contains("TEMPLATE \"\"\"{{- range .Messages }}"), modelfile)
        XCTAssertEqual(try evalLoss(file("ollama/model.gguf"), ["--adapter", file("ollama/adapter.gguf")]), tuned, accuracy: 2e-3 * tuned)

        // Merged GGUFs load as models: f32 gives the adapter's loss and greedy tokens, q8_0 nearly.
        try lorikeet(["merge", "--model", model.path, "--adapter", adapter, "--format", "gguf", "--quant", "f32", "--out", file("m32.gguf")])
        XCTAssertEqual(try evalLoss(file("m32.gguf")), tuned, accuracy: 1e-5 * tuned)
        func generated(_ extra: [String]) throws -> [Int] {
            let json = try lorikeet(["generate", "--prompt", "the quick brown", "--max-tokens", "8", "--json"] + extra)
            return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any])["tokens"] as! [Int]
        }
        XCTAssertEqual(try generated(["--model", file("m32.gguf")]), try generated(["--model", model.path, "--adapter", adapter]))
        try lorikeet(["merge", "--model", model.path, "--adapter", adapter, "--format", "gguf", "--quant", "q8_0", "--out", file("m8.gguf")])
        XCTAssertEqual(try evalLoss(file("m8.gguf")), tuned, accuracy: 2e-2 * tuned)
        let m8 = try GGUFFile(path: file("m8.gguf"))
        XCTAssertEqual(m8.info("blk.0.ffn_down.weight")?.type, .q8_0)
        XCTAssertEqual(m8.info("blk.0.attn_norm.weight")?.type, .f32)
        XCTAssertEqual(m8["general.file_type"], .uint32(7))
        XCTAssertEqual(m8["tokenizer.ggml.pre"]?.string, "gpt-2")

        // quantize: folder → GGUF (k-quant rows of 64 fall back to Q5_0 as llama-quantize does), and GGUF → folder.
        let printedQ = try lorikeet(["quantize", "--model", model.path, "--format", "gguf", "--quant", "q4_k", "--out", file("q4k.gguf")])
        XCTAssertTrue(printedQ.contains("Q5_0"), printedQ)
        XCTAssertEqual(try evalLoss(file("q4k.gguf")), base, accuracy: 0.1 * base)
        try lorikeet(["quantize", "--model", file("m32.gguf"), "--format", "safetensors", "--quant", "f32", "--out", file("back")])
        XCTAssertEqual(try evalLoss(file("back")), tuned, accuracy: 1e-5 * tuned)
    }

    func testFlagsWinOverYAMLWhichWinsOverTheSavedRun() throws {
        let yaml = work.appendingPathComponent("run.yaml")
        try "rank: 3\nlearning-rate: 0.5\nbatch-size: 2\n".write(to: yaml, atomically: true, encoding: .utf8)
        let saved = try TrainingSettings(savedRun: Data(#"{"rank": 9, "batch-size": 5, "seed": 42, "base-model": "x"}"#.utf8), path: "saved/config.json")
        let train = try XCTUnwrap(try LorikeetCommand.parseAsRoot(["train", "--model", model.path, "--data", data.path,
                                                            "--learning-rate", "0.1", "--config", yaml.path]) as? Train)
        let file = try TrainingSettings(yaml: String(contentsOf: yaml, encoding: .utf8), path: yaml.path)
        let c = try TrainingConfiguration.resolve(savedRun: saved, file: file, commandLine: try train.settings.settings())
        XCTAssertEqual(c.learningRate, 0.1)  // flag over YAML
        XCTAssertEqual(c.rank, 3)            // YAML over saved
        XCTAssertEqual(c.batchSize, 2)
        XCTAssertEqual(c.seed, 42)           // saved over defaults
        XCTAssertEqual(c.maxSequenceLength, TrainingConfiguration().maxSequenceLength)

        // A bad YAML value names its file and line; an unknown key is named; a bad flag value names the command line.
        let bad = "rank: 3\nwarmup: 0\nbatch-size: many\n"
        XCTAssertThrowsError(try TrainingSettings(yaml: bad, path: "run.yaml")) { XCTAssertTrue("\($0)".contains("run.yaml:3"), "\($0)") }
        XCTAssertThrowsError(try TrainingSettings(yaml: "learning_rate: 1\n", path: "run.yaml")) {
            XCTAssertTrue("\($0)".contains("learning_rate") && "\($0)".contains("run.yaml:1"), "\($0)")
        }
        let negative = try XCTUnwrap(try LorikeetCommand.parseAsRoot(["train", "--model", "m", "--data", "d", "--learning-rate=-1"]) as? Train)
        XCTAssertThrowsError(try TrainingConfiguration.resolve(commandLine: try negative.settings.settings())) {
            XCTAssertTrue("\($0)".contains("the command line") && "\($0)".contains("learning-rate"), "\($0)")
        }
        // The saved run's own keys decode back to the same configuration.
        var round = TrainingConfiguration()
        round.rank = 12
        round.rankPattern = ["down_proj": 4]
        round.fineTuningMethod = .qlora(.fourBit(.fp4, blockSize: 128, doubleQuant: false))
        let again = try TrainingConfiguration.resolve(savedRun: TrainingSettings(savedRun: round.savedJSON(baseModel: "m"), path: "c.json"))
        XCTAssertEqual(again, round)
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfiguration.self, from: round.savedJSON(baseModel: "m")), round)
        // Quoted numbers and switches read as what their setting takes.
        let quoted = try TrainingSettings(yaml: "learning-rate: \"2e-4\"\npacking: \"yes\"\n", path: "q.yaml")
        let q = try TrainingConfiguration.resolve(file: quoted)
        XCTAssertEqual(q.learningRate, 2e-4)
        XCTAssertTrue(q.packing)
    }

    func testEverySettingHasOneFlag() throws {
        let keys = Set(TrainingConfiguration.CodingKeys.allCases.map(\.rawValue))
        var mapped: [String] = []
        for child in Mirror(reflecting: TrainingFlags()).children {
            let key = try XCTUnwrap(TrainingFlags.key(forProperty: child.label ?? ""), "\(child.label ?? "?") names no setting")
            mapped.append(key)
        }
        XCTAssertEqual(mapped.count, Set(mapped).count, "two flags for one setting")
        XCTAssertEqual(Set(mapped), keys, "settings without a flag: \(keys.subtracting(mapped))")
        // Each flag, given, reaches its setting under its own name.
        let given = try XCTUnwrap(try LorikeetCommand.parseAsRoot(["train", "--model", "m", "--data", "d", "--use-rslora", "--no-double-quant",
                                                            "--lr-schedule", "linear", "--max-grad-norm", "0.5"]) as? Train)
        let s = try given.settings.settings()
        XCTAssertEqual(s.values, ["use-rslora": .bool(true), "double-quant": .bool(false), "lr-schedule": .string("linear"),
                                  "max-grad-norm": .double(0.5)])
    }

    func testMemoryCheckUsesTheRunsOptimizer() throws {
        func run(_ flags: [String]) throws -> TrainingRun {
            let t = try XCTUnwrap(try LorikeetCommand.parseAsRoot(["train", "--model", model.path, "--data", data.path, "--targets", "all-linear"] + flags) as? Train)
            return try TrainingRun(model: .source(ModelSource.open(model.path)), data: .path(data.path), directory: work.appendingPathComponent("m"),
                                   commandLine: try t.settings.settings())
        }
        let adamw = try run([]), eightBit = try run(["--optimizer", "adamw8bit"]), onDisk = try run(["--optimizer-state-on-disk"])
        let trainable = adamw.memoryEstimate().trainableParameters
        XCTAssertEqual(adamw.memoryEstimate().bytes(.optimizerState), 8 * trainable)
        XCTAssertEqual(eightBit.memoryEstimate().bytes(.optimizerState), Int((Double(trainable) * 2 * (1 + 4.0 / 256)).rounded()))
        XCTAssertEqual(onDisk.memoryEstimate().bytes(.optimizerState), 0)
        XCTAssertLessThan(eightBit.memoryEstimate().required, adamw.memoryEstimate().required)
        XCTAssertThrowsError(try eightBit.checkMemory(available: 1 << 20)) { error in
            guard case let TrainingError.insufficientMemory(required, _, _, advice) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(required, eightBit.memoryEstimate().required)
            XCTAssertTrue(advice.contains { $0.changes.first?.key == "method" }, "\(advice)")
        }
        XCTAssertNoThrow(try eightBit.checkMemory(available: 1 << 40))
    }
}

/// Runs `body` with file descriptor 1 sent to a temporary file; returns what was written.
func captureStandardOutput(_ body: () throws -> Void) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("stdout-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: url) }
    let file = try FileHandle(forWritingTo: url)
    fflush(nil)
    let saved = dup(1)
    dup2(file.fileDescriptor, 1)
    defer {
        fflush(nil)
        dup2(saved, 1)
        close(saved)
        try? file.close()
    }
    try body()
    fflush(nil)
    return String(decoding: try Data(contentsOf: url), as: UTF8.self)
}

extension Double {
    func rounded(toPlaces n: Int) -> Double {
        let p = pow(10, Double(n))
        return (self * p).rounded() / p
    }
}
