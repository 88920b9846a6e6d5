// MemoryStats: plausible figures on this machine, a 64 MiB allocation showing up in the
// peak, the /proc field parser, and byte formatting.
import XCTest
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
        #if os(Linux) || canImport(Darwin)
        // Earlier tests in this process may still be returning memory while this runs, so
        // compare the moments just before and just after freeing the touched buffer (a
        // 64 MiB allocation is its own mapping: freeing it unmaps it at once).
        let size = 64 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        for offset in stride(from: 0, to: size, by: 4096) { buffer[offset] = UInt8(truncatingIfNeeded: offset >> 12) }
        var sum = 0
        for offset in stride(from: 0, to: size, by: 4096) { sum &+= Int(buffer[offset]) }
        XCTAssertNotEqual(sum, -1)
        let during = try XCTUnwrap(MemoryStats.currentResidentBytes)
        let peak = try XCTUnwrap(MemoryStats.peakResidentBytes)
        buffer.deallocate()
        let after = try XCTUnwrap(MemoryStats.currentResidentBytes)
        XCTAssertGreaterThanOrEqual(during - after, size / 2, "freeing 64 MiB of touched pages")
        XCTAssertGreaterThanOrEqual(peak, during)
        #else
        throw XCTSkip("no memory statistics on this platform")
        #endif
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
