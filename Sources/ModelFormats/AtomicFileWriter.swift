// Writing a file atomically: bytes go to a temporary file beside the destination, which is
// fsynced and renamed over it only when complete, so readers never see half a file and a
// crash leaves the old file intact. Buffered; abandoning the writer removes the temp file.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer to a temporary file that replaces `destination` on `commit()`.
final class AtomicFileWriter {
    let destination: String
    private let temporary: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var committed = false
    /// Bytes written so far (including buffered ones).
    private(set) var position = 0

    init(destination url: URL) throws {
        destination = url.path
        temporary = destination + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw FormatError.io(file: destination, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(1 << 20)
    }

    /// Appends raw bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        position += bytes.count
        if buffer.count + bytes.count > (1 << 20) {
            try flush()
            if bytes.count >= (1 << 20) { try writeAll(bytes); return }
        }
        buffer.append(contentsOf: bytes)
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func write<T: FixedWidthInteger>(le value: T) throws {
        try withUnsafeBytes(of: value.littleEndian) { try write($0) }
    }

    /// Appends zero bytes until `position` is a multiple of `alignment`.
    func pad(to alignment: Int, with byte: UInt8 = 0) throws {
        let r = position % alignment
        if r != 0 { try write([UInt8](repeating: byte, count: alignment - r)) }
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #else
            let n = Darwin.write(fd, bytes.baseAddress! + done, bytes.count - done)
            #endif
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw FormatError.io(file: destination, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Flushes, fsyncs and renames the temporary file over the destination.
    func commit() throws {
        try flush()
        guard fsync(fd) == 0 else {
            throw FormatError.io(file: destination, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
        close(fd)
        fd = -1
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FormatError.io(file: destination, reason: "rename failed: \(reason)")
        }
        committed = true
        // Make the rename itself durable.
        let dir = open((destination as NSString).deletingLastPathComponent.isEmpty ? "." :
                        (destination as NSString).deletingLastPathComponent, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporary) }
    }
}
