// Writing safetensors files the way the reference library does: tensors ordered by
// element size (largest first, keeping every tensor aligned) then name, compact JSON
// header padded with spaces to a multiple of 8 bytes, raw little-endian data. Atomic:
// written to a temporary file, fsynced, renamed. Tensors can be produced one at a time while
// writing, so a whole model never has to exist in memory at once.
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
        let lookup = Dictionary(tensors.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        try write(tensors.map { (name: $0.0, dtype: $0.1.dtype, shape: $0.1.shape) }, metadata: metadata, to: url) { lookup[$0]! }
    }

    /// Writes the tensors described by `entries`, asking `produce` for each one's value only
    /// when its bytes are due (one at a time, in file order), so a model can be written while
    /// only one tensor of it exists in memory. Each produced tensor must have its entry's dtype
    /// and shape. Replaces any file at `url` atomically; throws on duplicate or reserved names.
    public static func write(_ entries: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String] = [:],
                             to url: URL, produce: (String) throws -> Tensor) throws {
        let path = url.path
        var seen = Set<String>()
        for e in entries {
            guard dtypeNames[e.dtype] != nil else {
                throw FormatError.unsupportedType(file: path, tensor: e.name, type: "\(e.dtype) (widen it before saving)")
            }
            guard e.name != "__metadata__" else {
                throw FormatError.invalidTensor(file: path, tensor: e.name, reason: "the name __metadata__ is reserved")
            }
            guard seen.insert(e.name).inserted else { throw FormatError.duplicateName(file: path, name: e.name) }
        }
        let ordered = entries.sorted { a, b in
            a.dtype.byteSize != b.dtype.byteSize ? a.dtype.byteSize > b.dtype.byteSize : a.name < b.name
        }
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(keys.joined(separator: ","))}")
        }
        var offset = 0
        for e in ordered {
            let end = offset + e.shape.reduce(1, *) * e.dtype.byteSize
            let shape = e.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(e.name)):{\"dtype\":\"\(dtypeNames[e.dtype]!)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        json += parts.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }   // spaces, as the Python library pads

        let out = try AtomicFileWriter(destination: url)
        try out.write(le: UInt64(header.count))
        try out.write(header)
        for e in ordered {
            let t = try produce(e.name)
            guard t.dtype == e.dtype, t.shape == e.shape else {
                throw FormatError.invalidTensor(file: path, tensor: e.name,
                                                reason: "produced \(t.dtype) \(t.shape), the header says \(e.dtype) \(e.shape)")
            }
            try t.withUnsafeBytes { try out.write($0) }
        }
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
