// Process and machine memory figures for progress lines, reports and the memory estimator.
// Linux reads /proc/self/status (VmHWM, VmRSS) and /proc/meminfo (MemAvailable); macOS asks
// getrusage, task_info and host_statistics64. Every figure is nil where the platform does
// not tell us, so callers print "unknown" rather than a made-up number.
import Foundation
#if os(Linux)
import Glibc
#elseif canImport(Darwin)
// `mach_task_self_` is a C global; it is written once at process start, so reading it from
// any thread is safe, which strict concurrency cannot see without @preconcurrency.
@preconcurrency import Darwin
#endif

/// Resident-memory figures of this process and available memory of the machine, in bytes.
public enum MemoryStats {
    /// The highest resident set size this process has reached, or nil when unknown.
    public static var peakResidentBytes: Int? {
        #if os(Linux)
        return procStatusField("VmHWM:", file: "/proc/self/status")
        #elseif canImport(Darwin)
        var usage = rusage()
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return nil }
        // ru_maxrss is in bytes on Darwin (kilobytes on Linux).
        return Int(usage.ru_maxrss)
        #else
        return nil
        #endif
    }

    /// The resident set size of this process now, or nil when unknown.
    public static var currentResidentBytes: Int? {
        #if os(Linux)
        return procStatusField("VmRSS:", file: "/proc/self/status")
        #elseif canImport(Darwin)
        var info = mach_task_basic_info()
        var count = mach_msg_type_number_t(
            MemoryLayout<mach_task_basic_info>.size / MemoryLayout<natural_t>.size)
        let result = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(MACH_TASK_BASIC_INFO), $0, &count)
            }
        }
        guard result == KERN_SUCCESS else { return nil }
        return Int(info.resident_size)
        #else
        return nil
        #endif
    }

    /// Memory the machine can still hand out without swapping, or nil when unknown.
    ///
    /// Linux reports the kernel's own estimate (MemAvailable); macOS counts free, inactive
    /// and purgeable pages, which is what Activity Monitor calls available.
    public static var availableBytes: Int? {
        #if os(Linux)
        return procStatusField("MemAvailable:", file: "/proc/meminfo")
        #elseif canImport(Darwin)
        var stats = vm_statistics64_data_t()
        var count = mach_msg_type_number_t(
            MemoryLayout<vm_statistics64_data_t>.size / MemoryLayout<integer_t>.size)
        let result = withUnsafeMutablePointer(to: &stats) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                host_statistics64(mach_host_self(), HOST_VM_INFO64, $0, &count)
            }
        }
        guard result == KERN_SUCCESS else { return nil }
        let pageSize = Int(getpagesize())
        let pages = Int(stats.free_count) + Int(stats.inactive_count) + Int(stats.purgeable_count)
        return pages * pageSize
        #else
        return nil
        #endif
    }

    /// Formats a byte count with binary units: "512 B", "512 KiB", "512 MiB", "1.23 GiB".
    ///
    /// Values under 10 of a unit keep two decimals, under 100 one, larger none, so the
    /// string stays about four digits wide in progress lines.
    public static func formatBytes(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        let sign = bytes < 0 ? "-" : ""
        var value = Double(bytes.magnitude)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(sign)\(bytes.magnitude) B" }
        // Rounding can push 1023.9 up to "1024"; move to the next unit instead.
        if value.rounded() >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let decimals = value < 10 ? 2 : (value < 100 ? 1 : 0)
        let text = String(format: "%.\(decimals)f", value)
        return "\(sign)\(text) \(units[unit])"
    }

    #if os(Linux)
    /// Reads a "Name:   1234 kB" line of a /proc file and returns it in bytes.
    static func procStatusField(_ name: String, file: String) -> Int? {
        guard let text = readSmallFile(file) else { return nil }
        return parseKilobyteField(name, in: text)
    }

    /// Reads a /proc file with plain read(2): they report size 0, so a read-to-size fails.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return nil }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 20 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    #endif

    /// Finds `name` at the start of a line and parses the number after it, scaled from kB.
    static func parseKilobyteField(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let fields = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, let value = Int(first) else { return nil }
            let unit = fields.count > 1 ? fields[1].lowercased() : ""
            return unit == "kb" ? value * 1024 : value
        }
        return nil
    }
}
