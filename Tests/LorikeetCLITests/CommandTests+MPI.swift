// Data-parallel training under a real MPI launcher (`mpirun --oversubscribe -np 2` over the
// release binary, as a user runs it) on the tiny model of CommandTests: two ranks compute what
// one process accumulating two micro-batches computes; resuming (on the same or another number
// of ranks) continues bit-identically; a killed rank ends the job with its rank named; and the
// binary needs libmpi only when a launcher started it. Without mpirun the launcher tests skip,
// unless LORIKEET_REQUIRE_MPI=1 (CI) makes that a failure.
import XCTest
import Foundation
import FineTuning

extension CommandTests {
    var binary: URL { Self.repoRoot.appendingPathComponent(".build/release/lorikeet") }

    func mpirun() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("no release binary at \(binary.path)") }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        if let found = path.map({ "\($0)/mpirun" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        if ProcessInfo.processInfo.environment["LORIKEET_REQUIRE_MPI"] == "1" {
            XCTFail("LORIKEET_REQUIRE_MPI=1 but no mpirun on PATH (apt install openmpi-bin)")
        }
        throw XCTSkip("no mpirun on PATH")
    }

    /// Runs `executable arguments` with `environment` added, output to a file; returns status and output.
    static func launch(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       whileRunning: ((Process) -> Void)? = nil) throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-mpi-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        whileRunning?(p)
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    func ranks(_ n: Int, _ arguments: [String], whileRunning: ((Process) -> Void)? = nil) throws -> (status: Int32, output: String) {
        try Self.launch(try mpirun(), ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(n)", binary.path] + arguments,
                        whileRunning: whileRunning)
    }

    func single(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Self.launch(binary.path, arguments)
    }

    func mpiArguments(_ run: URL, _ extra: [String]) -> [String] {
        ["train", "--model", model.path, "--data", data.path, "--out", run.path, "--quiet", "--threads", "1",
         "--rank", "4", "--alpha", "8", "--targets", "all-linear", "--dropout", "0.1", "--learning-rate", "3e-2",
         "--batch-size", "2", "--max-steps", "8", "--save-every", "3", "--warmup", "2", "--seed", "11"] + extra
    }

    func trained(_ run: URL) throws -> Data {
        let adapter = run.appendingPathComponent("adapter/adapter_model.safetensors")
        let path = FileManager.default.fileExists(atPath: adapter.path) ? adapter : run.appendingPathComponent("model/model.safetensors")
        return try Data(contentsOf: path)
    }

    /// `-np 2 --batch-size B` is `--batch-size B --grad-accumulation 2` in one process: the same
    /// micro-batches, the same global normalisation and dropout masks. For LoRA and QLoRA each
    /// micro-batch's adapter gradient is made apart and then added, and a sum of two is the same
    /// either way round, so losses and weights are bit-identical. Full fine-tuning accumulates
    /// into the weights' gradient buffers token by token (the embedding's scatter-add), so one
    /// process sums ((a1 + a2) + b1) + b2 where two ranks sum (a1 + a2) + (b1 + b2): within 1e-5,
    /// as is any run with more than one micro-batch per rank.
    func testTwoRanksComputeWhatOneProcessAccumulatingTwoComputes() throws {
        _ = try mpirun()
        let variants: [(String, [String])] = [("lora", []), ("lora-packing", ["--packing"]), ("qlora", ["--method", "qlora"]),
                                              ("full", ["--method", "full", "--learning-rate", "1e-3"])]
        for (name, extra) in variants {
            let one = work.appendingPathComponent("\(name)-one"), two = work.appendingPathComponent("\(name)-two")
            let a = try single(mpiArguments(one, extra + ["--grad-accumulation", "2"]))
            XCTAssertEqual(a.status, 0, a.output)
            let b = try ranks(2, mpiArguments(two, extra))
            XCTAssertEqual(b.status, 0, b.output)
            let (l1, l2) = (try losses(one), try losses(two))
            XCTAssertEqual(l1.count, 8, name)
            if name == "full" {
                Self.assertClose(l1, l2, name)
            } else {
                XCTAssertEqual(l1, l2, "\(name): per-step losses of -np 2 and of --grad-accumulation 2 must be bit-identical")
                XCTAssertEqual(try trained(one), try trained(two), "\(name): the trained weights must be bit-identical")
            }
            // Only rank 0 wrote: one metrics line per step and evaluation, not two.
            XCTAssertEqual(try MetricsLog.read(from: two.appendingPathComponent("metrics.jsonl")).count,
                           try MetricsLog.read(from: one.appendingPathComponent("metrics.jsonl")).count, name)
        }
        // Four micro-batches: two per rank, summed in another order than one process's four.
        let one = work.appendingPathComponent("ga4-one"), two = work.appendingPathComponent("ga4-two")
        XCTAssertEqual(try single(mpiArguments(one, ["--grad-accumulation", "4"])).status, 0)
        XCTAssertEqual(try ranks(2, mpiArguments(two, ["--grad-accumulation", "2"])).status, 0)
        Self.assertClose(try losses(one), try losses(two), "grad-accumulation 4 vs 2 × 2")
    }

    static func assertClose(_ a: [Double], _ b: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            XCTAssertEqual(x, y, accuracy: 1e-5 * abs(x), "\(what): step \(i + 1)", file: file, line: line)
        }
    }

    /// Stopped under MPI, then resumed on two ranks and on one (accumulating two): both finish
    /// bit-identical to the uninterrupted two-rank run; with sharded optimizer state (ZeRO-1,
    /// full fine-tuning) the checkpoint holds every rank's moments, so it resumes on any count.
    func testMPIRunsResumeBitIdenticallyOnAnyNumberOfRanks() throws {
        _ = try mpirun()
        for (name, extra) in [("lora", [String]()), ("zero1", ["--method", "full", "--learning-rate", "1e-3", "--shard-optimizer-state"])] {
            let straight = work.appendingPathComponent("\(name)-straight")
            XCTAssertEqual(try ranks(2, mpiArguments(straight, extra)).status, 0)
            let reference = try losses(straight)
            let stopped = work.appendingPathComponent("\(name)-stopped")
            let s = try ranks(2, mpiArguments(stopped, extra + ["--stop-after", "4"]))
            XCTAssertEqual(s.status, 0, s.output)
            XCTAssertEqual(try losses(stopped).count, 4, name)
            try FileManager.default.copyItem(at: stopped, to: work.appendingPathComponent("\(name)-stopped-one"))
            let r = try ranks(2, ["train", "--model", model.path, "--data", data.path, "--out", stopped.path, "--quiet", "--threads", "1", "--resume"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertEqual(try losses(stopped), reference, "\(name): resumed on two ranks")
            XCTAssertEqual(try trained(stopped), try trained(straight), name)
            // The same checkpoint on one process with twice the accumulation.
            let onOne = work.appendingPathComponent("\(name)-stopped-one")
            let o = try single(["train", "--model", model.path, "--data", data.path, "--out", onOne.path, "--quiet", "--threads", "1",
                                "--resume", "--grad-accumulation", "2"])
            XCTAssertEqual(o.status, 0, o.output)
            if name == "lora" {
                XCTAssertEqual(try losses(onOne), reference, "\(name): resumed on one process")
            } else {
                XCTAssertEqual(Array(try losses(onOne).prefix(4)), Array(reference.prefix(4)), name)
                Self.assertClose(try losses(onOne), reference, "\(name): resumed on one process")
            }
        }
        // Sharded and unsharded two-rank runs are the same computation.
        let plain = work.appendingPathComponent("full-plain")
        XCTAssertEqual(try ranks(2, mpiArguments(plain, ["--method", "full", "--learning-rate", "1e-3"])).status, 0)
        XCTAssertEqual(try losses(plain), try losses(work.appendingPathComponent("zero1-straight")))
        XCTAssertEqual(try trained(plain), try trained(work.appendingPathComponent("zero1-straight")))
    }

    /// A rank killed mid-run: the launcher ends the job (no hang) and says which rank; --resume
    /// then finishes from the last checkpoint.
    func testAKilledRankEndsTheJobNamingItAndResumeContinues() throws {
        _ = try mpirun()
        let run = work.appendingPathComponent("dead")
        let arguments = mpiArguments(run, ["--max-steps", "400", "--save-every", "1", "--keep-checkpoints", "2"])
        let started = Date()
        let result = try ranks(2, arguments) { mpirun in
            // Wait for a checkpoint, then kill one of mpirun's children (a rank).
            while Date().timeIntervalSince(started) < 60 && Checkpoint.latest(run: run) == nil { usleep(20_000) }
            let children = Self.childProcesses(of: mpirun.processIdentifier)
            if let victim = children.last { kill(victim, SIGKILL) }
        }
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 120, "the job must end, not hang")
        XCTAssertTrue(result.output.range(of: #"rank [01]"#, options: .regularExpression) != nil, result.output)
        XCTAssertTrue(result.output.contains("signal 9") || result.output.contains("Killed"), result.output)
        let done = try losses(run).count
        XCTAssertLessThan(done, 400)
        let resumed = try ranks(2, ["train", "--model", model.path, "--data", data.path, "--out", run.path, "--quiet", "--threads", "1", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertEqual(try losses(run).count, 400)
    }

    static func childProcesses(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }.sorted()
    }

    /// MPICH (its Hydra launcher, mpiexec.mpich) is found and driven through its own handles:
    /// the same bit-identical result. Skips where MPICH is not installed.
    func testMPICHComputesTheSame() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("no release binary at \(binary.path)") }
        let hydra = "/usr/bin/mpiexec.mpich"
        guard FileManager.default.isExecutableFile(atPath: hydra) else { throw XCTSkip("no \(hydra) (apt install mpich)") }
        let one = work.appendingPathComponent("one"), two = work.appendingPathComponent("two")
        XCTAssertEqual(try single(mpiArguments(one, ["--grad-accumulation", "2", "--max-steps", "4"])).status, 0)
        let b = try Self.launch(hydra, ["-np", "2", binary.path] + mpiArguments(two, ["--max-steps", "4"]))
        XCTAssertEqual(b.status, 0, b.output)
        XCTAssertEqual(try losses(one), try losses(two))
        XCTAssertEqual(try trained(one), try trained(two))
    }

    /// No MPI needed to run alone; under a launcher, a library that cannot be loaded is a clear error.
    func testTheBinaryNeedsLibMPIOnlyUnderALauncher() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("no release binary at \(binary.path)") }
        let missing = ["LORIKEET_MPI_LIBRARY": "/nonexistent/libmpi.so.40"]
        let alone = try Self.launch(binary.path, mpiArguments(work.appendingPathComponent("alone"), ["--max-steps", "2"]), environment: missing)
        XCTAssertEqual(alone.status, 0, alone.output)
        let launched = try Self.launch(binary.path, mpiArguments(work.appendingPathComponent("launched"), ["--max-steps", "2"]),
                                       environment: missing.merging(["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"]) { $1 })
        XCTAssertNotEqual(launched.status, 0)
        XCTAssertTrue(launched.output.contains("OMPI_COMM_WORLD_SIZE is set") && launched.output.contains("/nonexistent/libmpi.so.40")
                      && launched.output.contains("LORIKEET_MPI_LIBRARY"), launched.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("launched/config.json").path))
    }
}
