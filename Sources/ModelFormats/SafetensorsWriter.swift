// Writing safetensors files the way the reference library does: tensors ordered by
// element size (largest first, keeping every tensor aligned) then name, compact JSON
// header padded with spaces to a multiple of 8 bytes, raw little-endian data. Atomic:
// written to a temporary file, fsynced, renamed.
import Foundation
import TensorCore

/// Writes tensors to a safetensors file.
public enum SafetensorsWriter {
    /// The safetensors dtype string of each DType.
    static let dtypeNames: [DType: String] = Dictionary(
        uniqueKeysWithValues: SafetensorsFile.dtypes.map { ($1, $0) })

    /// Writes `tensors` (any elementwise dtype, stored as they are; not `.packed`) and the string map `metadata` to
    /// `url`, replacing any file there atomically. Throws on duplicate or reserved names.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        let path = url.path
        var seen = Set<String>()
        for (name, t) in tensors {
            guard dtypeNames[t.dtype] != nil else {
                throw FormatError.unsupportedType(file: path, tensor: name, type: "\(t.dtype) (widen it before saving)")
            }
            guard name != "__metadata__" else {
                throw FormatError.invalidTensor(file: path, tensor: name, reason: "the name __metadata__ is reserved")
            }
            guard seen.insert(name).inserted else { throw FormatError.duplicateName(file: path, name: name) }
        }
        let ordered = tensors.sorted { a, b in
            a.1.dtype.byteSize != b.1.dtype.byteSize ? a.1.dtype.byteSize > b.1.dtype.byteSize : a.0 < b.0
        }
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        var offset = 0
        for (name, t) in ordered {
            let end = offset + t.byteCount
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"\(dtypeNames[t.dtype]!)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        json += parts.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }   // spaces, as the Python library pads

        let out = try AtomicFileWriter(destination: url)
        try out.write(le: UInt64(header.count))
        try out.write(header)
        for (_, t) in ordered { try t.withUnsafeBytes { try out.write($0) } }
        try out.commit()
    }

    /// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
