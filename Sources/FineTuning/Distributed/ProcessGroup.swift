// The processes of one training job and the collectives between them. A run started by an MPI
// launcher (mpirun, mpiexec, srun with PMIx) gets one rank per process: libmpi is loaded then,
// at run time, through CMPIShim (dlopen), so the binary builds and runs single-process without
// any MPI installed. Large float buffers are reduced in buckets of `bucketFloats` (MPI counts
// are 32-bit ints); every call is timed so a run can report its communication share.
import Foundation
import CMPIShim

/// Why a distributed job could not start or a collective failed.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// Started under a launcher, but no MPI library could be loaded.
    case libraryUnavailable(launcher: String, tried: [String], reason: String)
    /// An MPI call returned an error.
    case call(String, rank: Int, message: String)
    /// A setting that needs several processes, or that several processes cannot honour.
    case unsupported(String)

    public var description: String {
        switch self {
        case let .libraryUnavailable(launcher, tried, reason):
            "started by an MPI launcher (\(launcher) is set) but no MPI library could be loaded (tried \(tried.joined(separator: ", "))): "
                + "\(reason). Install Open MPI (apt install openmpi-bin, brew install open-mpi) or MPICH, or point "
                + "\(ProcessGroup.libraryVariable) at libmpi"
        case let .call(name, rank, message): "rank \(rank): \(name) failed: \(message)"
        case let .unsupported(reason): reason
        }
    }
}

/// One process of a data-parallel job: its rank, the world size, and sums and gathers over all.
public final class ProcessGroup: @unchecked Sendable {
    /// The environment variable that names the MPI library to load (a file name or a path).
    public static let libraryVariable = "LORIKEET_MPI_LIBRARY"
    /// Variables MPI launchers set in every process they start (Open MPI, MPICH's Hydra and
    /// Intel MPI, PMIx launchers such as Slurm's srun --mpi=pmix, MVAPICH).
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE"]
    /// Variables that tell how many ranks share this host.
    static let localSizeVariables = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE", "PMI_LOCAL_SIZE"]
    /// Library names tried in order when the variable is not set: the launcher's own family
    /// first (Open MPI's mpirun sets OMPI_*; MPICH's Hydra sets PMI_*), since a library of the
    /// other family cannot talk to that launcher.
    static func defaultLibraries(launcher: String) -> [String] {
        #if os(macOS)
        let openMPI = ["libmpi.40.dylib", "/opt/homebrew/lib/libmpi.40.dylib", "/usr/local/lib/libmpi.40.dylib"]
        let mpich = ["libmpich.12.dylib", "/opt/homebrew/lib/libmpich.12.dylib", "/usr/local/lib/libmpich.12.dylib"]
        let plain = ["libmpi.dylib", "/opt/homebrew/lib/libmpi.dylib", "/usr/local/lib/libmpi.dylib"]
        #else
        let openMPI = ["libmpi.so.40"], mpich = ["libmpich.so.12", "libmpi.so.12"], plain = ["libmpi.so"]
        #endif
        return (launcher.hasPrefix("OMPI_") ? openMPI + mpich : mpich + openMPI) + plain
    }
    /// Floats per MPI call when a buffer is reduced in pieces (16 Mi floats, 64 MiB).
    public static let bucketFloats = 1 << 24

    /// This process's rank, 0 ..< size.
    public let rank: Int
    /// Processes in the job.
    public let size: Int
    /// The MPI implementation ("Open MPI", "MPICH"), nil for a single process.
    public let implementation: String?
    /// Processes of the job on this host (from the launcher; 1 when unknown).
    public let localSize: Int
    /// Seconds spent in collective calls so far.
    public private(set) var communicationSeconds = 0.0
    /// Bytes this process contributed to collectives so far.
    public private(set) var communicatedBytes = 0

    /// A job of one process: every collective is the identity.
    public static let single = ProcessGroup(rank: 0, size: 1, implementation: nil, localSize: 1)

    init(rank: Int, size: Int, implementation: String?, localSize: Int) {
        self.rank = rank
        self.size = size
        self.implementation = implementation
        self.localSize = localSize
    }

    /// True for more than one process.
    public var isDistributed: Bool { size > 1 }
    /// True when MPI was initialised (under a launcher, even with one process): finalize or abort at the end.
    public var usesMPI: Bool { implementation != nil }
    /// Rank 0 writes the run folder and prints.
    public var isLeader: Bool { rank == 0 }

    /// The launcher variable set in `environment`, if any.
    public static func launcher(in environment: [String: String]) -> String? {
        launcherVariables.first { environment[$0] != nil }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: ProcessGroup?

    /// The job this process belongs to: `.single` unless an MPI launcher started it, else MPI is
    /// loaded (the library named by LORIKEET_MPI_LIBRARY, or the usual names) and initialised.
    /// Called again, returns the same group.
    /// - Throws: `DistributedError.libraryUnavailable` under a launcher without a loadable libmpi.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        guard let launcher = launcher(in: environment) else { return .single }
        return try lock.withLock {
            if let started { return started }
            let tried = environment[libraryVariable].map { [$0] } ?? defaultLibraries(launcher: launcher)
            var reasons: [String] = []
            var loaded = false
            for name in tried {
                var message = [CChar](repeating: 0, count: 1024)
                if lk_mpi_load(name, &message, message.count) == 0 { loaded = true; break }
                reasons.append(Self.string(message))
            }
            guard loaded else { throw DistributedError.libraryUnavailable(launcher: launcher, tried: tried, reason: reasons.joined(separator: "; ")) }
            try check("MPI_Init", rank: -1, lk_mpi_init())
            var rank: Int32 = 0, size: Int32 = 0
            try check("MPI_Comm_rank", rank: -1, lk_mpi_rank(&rank))
            try check("MPI_Comm_size", rank: Int(rank), lk_mpi_size(&size))
            let local = localSizeVariables.lazy.compactMap { environment[$0].flatMap(Int.init) }.first ?? 1
            let group = ProcessGroup(rank: Int(rank), size: Int(size), implementation: lk_mpi_family().map { String(cString: $0) },
                                     localSize: max(1, local))
            started = group
            return group
        }
    }

    static func check(_ name: String, rank: Int, _ code: Int32) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 1024)
        lk_mpi_error_string(code, &text, text.count)
        throw DistributedError.call(name, rank: rank, message: string(text))
    }

    /// The text of a NUL-terminated C buffer.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func timed(_ name: String, bytes: Int, _ call: () -> Int32) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let code = call()
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        communicatedBytes += bytes
        try Self.check(name, rank: rank, code)
    }

    /// Replaces `buffer` by its element-wise sum over all ranks (in buckets of `bucketFloats`).
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard isDistributed, let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let n = min(Self.bucketFloats, buffer.count - offset)
            try timed("MPI_Allreduce", bytes: n * 4) { lk_mpi_allreduce_sum_float(base + offset, Int32(n)) }
            offset += n
        }
    }

    /// Replaces `values` by their element-wise sum over all ranks.
    public func allReduceSum(_ values: inout [Double]) throws {
        guard isDistributed, !values.isEmpty else { return }
        let count = values.count
        try values.withUnsafeMutableBufferPointer { p in
            try timed("MPI_Allreduce", bytes: count * 8) { lk_mpi_allreduce_sum_double(p.baseAddress!, Int32(count)) }
        }
    }

    /// Every rank's part of `buffer` (rank r's at `displacements[r] ..< + counts[r]`, its own
    /// filled in) copied to every rank, in place.
    public func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int], displacements: [Int]) throws {
        guard isDistributed, let base = buffer.baseAddress else { return }
        precondition(counts.count == size && displacements.count == size, "one count and displacement per rank")
        let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
        try timed("MPI_Allgatherv", bytes: counts[rank] * 4) { lk_mpi_allgatherv_float(base, c, d) }
    }

    /// Rank r's `send` lands in `receive` at `displacements[r]` on `root` (receive is ignored elsewhere).
    public func gather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>?, counts: [Int],
                       displacements: [Int], root: Int = 0) throws {
        guard isDistributed else {
            if let r = receive?.baseAddress, let s = send.baseAddress { r.update(from: s, count: send.count) }
            return
        }
        let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
        try timed("MPI_Gatherv", bytes: send.count * 4) {
            lk_mpi_gatherv_float(send.baseAddress, Int32(send.count), receive?.baseAddress, c, d, Int32(root))
        }
    }

    /// `root`'s bytes on every rank (the other ranks' `data` is replaced).
    public func broadcast(_ data: inout Data, root: Int = 0) throws {
        guard isDistributed else { return }
        var length = [Double(data.count)]
        if rank != root { length = [0] }
        try allReduceSum(&length)  // the length first, so every rank can size its buffer
        var bytes = rank == root ? [UInt8](data) : [UInt8](repeating: 0, count: Int(length[0]))
        let count = bytes.count
        try bytes.withUnsafeMutableBytes { p in
            try timed("MPI_Bcast", bytes: count) { lk_mpi_bcast_bytes(p.baseAddress, Int32(count), Int32(root)) }
        }
        data = Data(bytes)
    }

    /// True on every rank when `flag` is true on any.
    public func any(_ flag: Bool) throws -> Bool {
        guard isDistributed else { return flag }
        var v = [flag ? 1.0 : 0.0]
        try allReduceSum(&v)
        return v[0] > 0
    }

    /// Waits for every rank.
    public func barrier() throws {
        guard isDistributed else { return }
        try timed("MPI_Barrier", bytes: 0) { lk_mpi_barrier() }
    }

    /// Ends the whole job (every rank) with `code`; the launcher reports which rank asked.
    public func abort(code: Int32) -> Never {
        if usesMPI { _ = lk_mpi_abort(code) }
        exit(code)
    }

    /// MPI_Finalize (call once, at the end of a successful run).
    public func finalize() {
        if usesMPI { _ = lk_mpi_finalize() }
    }
}
