// MemoryStats: plausible figures on this machine, a 64 MiB allocation showing up in the
// peak, the /proc field parser, and byte formatting.
import XCTest
#if os(Linux)
import Glibc
#endif
@testable import TensorCore

final class MemoryStatsTests: XCTestCase {
    func testFiguresArePlausible() throws {
        #if os(Linux) || canImport(Darwin)
        let current = try XCTUnwrap(MemoryStats.currentResidentBytes)
        let peak = try XCTUnwrap(MemoryStats.peakResidentBytes)
        let available = try XCTUnwrap(MemoryStats.availableBytes)
        XCTAssertGreaterThan(current, 1 << 20)
        XCTAssertGreaterThanOrEqual(peak, current)
        XCTAssertGreaterThan(available, 0)
        XCTAssertLessThan(peak, 1 << 50)
        #else
        throw XCTSkip("no memory statistics on this platform")
        #endif
    }

    func testTouchingMemoryShowsInResidentSize() throws {
        #if os(Linux)
        // A private anonymous mapping of our own (not malloc, whose reuse and trimming we do
        // not control), so touching it must add its pages and unmapping must remove them.
        // Some sandboxes fold page counts into /proc lazily: poll for a short while, and skip
        // (saying so) only where the kernel never showed the touched pages at all.
        let size = 64 << 20
        let before = try XCTUnwrap(MemoryStats.currentResidentBytes)
        let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { return XCTFail("mmap of 64 MiB failed") }
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        for offset in stride(from: 0, to: size, by: 4096) { bytes[offset] = UInt8(truncatingIfNeeded: offset >> 12 | 1) }
        var sum = 0
        for offset in stride(from: 0, to: size, by: 4096) { sum &+= Int(bytes[offset]) }
        XCTAssertGreaterThan(sum, 0)
        let during = try Self.poll { $0 - before >= size / 2 }
        let peak = try XCTUnwrap(MemoryStats.peakResidentBytes)
        munmap(raw, size)
        guard during - before >= size / 2 else {
            throw XCTSkip("this kernel did not show 64 MiB of touched pages in VmRSS (\(before) -> \(during) bytes)")
        }
        let after = try Self.poll { during - $0 >= size / 2 }
        XCTAssertGreaterThanOrEqual(during - after, size / 2, "unmapping 64 MiB of touched pages")
        XCTAssertGreaterThanOrEqual(peak, during)
        #else
        throw XCTSkip("resident-size test reads /proc; Linux only")
        #endif
    }

    /// Reads the resident size until `done` holds or half a second has passed.
    private static func poll(until done: (Int) -> Bool) throws -> Int {
        var value = try XCTUnwrap(MemoryStats.currentResidentBytes)
        for _ in 0..<50 where !done(value) {
            usleep(10_000)
            value = try XCTUnwrap(MemoryStats.currentResidentBytes)
        }
        return value
    }

    func testParsesProcFields() {
        let status = "Name:\tswift\nVmPeak:\t  123456 kB\nVmHWM:\t    2048 kB\nVmRSS:\t1024 kB\nThreads:\t4\n"
        XCTAssertEqual(MemoryStats.parseKilobyteField("VmHWM:", in: status), 2048 * 1024)
        XCTAssertEqual(MemoryStats.parseKilobyteField("VmRSS:", in: status), 1024 * 1024)
        XCTAssertEqual(MemoryStats.parseKilobyteField("Threads:", in: status), 4)
        XCTAssertNil(MemoryStats.parseKilobyteField("VmSwap:", in: status))
        let meminfo = "MemTotal:       16318412 kB\nMemFree:         1234 kB\nMemAvailable:   8000000 kB\n"
        XCTAssertEqual(MemoryStats.parseKilobyteField("MemAvailable:", in: meminfo), 8_000_000 * 1024)
    }

    func testFormatBytes() {
        XCTAssertEqual(MemoryStats.formatBytes(0), "0 B")
        XCTAssertEqual(MemoryStats.formatBytes(512), "512 B")
        XCTAssertEqual(MemoryStats.formatBytes(1536), "1.50 KiB")
        XCTAssertEqual(MemoryStats.formatBytes(512 << 20), "512 MiB")
        XCTAssertEqual(MemoryStats.formatBytes(Int(1.23 * Double(1 << 30))), "1.23 GiB")
        XCTAssertEqual(MemoryStats.formatBytes(45 << 30), "45.0 GiB")
        XCTAssertEqual(MemoryStats.formatBytes((1 << 30) - 1), "1.00 GiB")
        XCTAssertEqual(MemoryStats.formatBytes(-(2 << 20)), "-2.00 MiB")
    }
}

final class MappedFileReleaseTests: XCTestCase {
    /// A read tensor's pages leave RSS on releasePages and come back, unchanged, when read again
    /// (what QLoRA does with each 16/32-bit source matrix once it is re-encoded).
    func testReleasedPagesLeaveRSSAndReadBackTheSame() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lorikeet-release-\(getpid()).bin").path
        defer { unlink(path) }
        let count = 48 << 20
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        func checksum() -> UInt64 { file.bytes.reduce(0) { $0 &* 31 &+ UInt64($1) } }
        let expected = bytes.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
        XCTAssertEqual(checksum(), expected)
        guard let before = MemoryStats.currentResidentBytes else { throw XCTSkip("no RSS figure on this system") }
        file.releasePages(0..<count)
        let after = try XCTUnwrap(MemoryStats.currentResidentBytes)
        XCTAssertGreaterThan(before - after, 40 << 20, "48 MiB of mapped pages released: RSS \(before) → \(after)")
        XCTAssertEqual(checksum(), expected, "released pages read back from the file")
        // A range that covers no whole page releases nothing (neighbours' bytes are untouched).
        file.releasePages(10..<100)
        XCTAssertEqual(checksum(), expected)
    }
}
