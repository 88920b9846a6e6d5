// Whole-file and whole-folder atomic replacement for what users must never lose half of
// (configs, adapters, checkpoints): write beside the destination, fsync, then rename.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic writes of small files and of folders.
public enum AtomicFile {
    /// Writes `data` to `url` through a temporary file that is fsynced and renamed over it.
    public static func write(_ data: Data, to url: URL) throws {
        let w = try AtomicFileWriter(destination: url)
        try data.withUnsafeBytes { try w.write($0) }
        try w.commit()
    }

    /// Builds a folder with `fill` in a temporary sibling, fsyncs it, and only then puts it
    /// at `url` (an existing folder there is replaced as a whole). A crash at any instant
    /// leaves either the old folder or the new one, plus at most a stray temporary folder.
    public static func writeDirectory(at url: URL, _ fill: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        do {
            try fill(tmp)
            for name in try fm.contentsOfDirectory(atPath: tmp.path) { try fsyncPath(tmp.appendingPathComponent(name).path) }
            try fsyncPath(tmp.path)
            if fm.fileExists(atPath: url.path) {
                let old = parent.appendingPathComponent(".\(url.lastPathComponent).old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                try fm.moveItem(at: url, to: old)
                try fm.moveItem(at: tmp, to: url)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: tmp, to: url)
            }
            try fsyncPath(parent.path)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }

    /// fsync of a file or folder (folders: so that renames inside are durable).
    static func fsyncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError.io(file: path, reason: "cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fsync(fd)
    }
}
