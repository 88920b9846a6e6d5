// The bitsandbytes 4-bit serialization that transformers' `save_pretrained` writes and reads:
// a linear weight `W` becomes `W` (uint8 [n/2, 1], the packed codes), `W.absmax` (f32, or the
// uint8 codes when double-quantized), `W.quant_map` (f32 [16]), with double quantization also
// `W.nested_absmax` and `W.nested_quant_map` (f32 [256]), and `W.quant_state.bitsandbytes__<type>`:
// the remaining fields as UTF-8 JSON bytes. Written byte-for-byte as bitsandbytes 0.50 does.
import Foundation
import TensorCore
import Quantization

/// Reads and writes 4-bit weights in bitsandbytes' safetensors layout.
public enum BitsAndBytes4Bit {
    /// What joins a weight's name to its JSON quant-state tensor.
    static let stateInfix = ".quant_state.bitsandbytes__"
    /// Suffixes of the tensors that travel with a 4-bit weight.
    static let companionSuffixes = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"]

    /// The tensors that store `matrix` as the weight `name`, in bitsandbytes' order of fields.
    /// The recorded dtype (what bitsandbytes dequantizes to before its product) is float32,
    /// as Lorikeet computes: a 16-bit one would round every widened weight again.
    public static func tensors(for matrix: FourBitMatrix, name: String) throws -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [(name, bytesTensor(matrix.codes, shape: [matrix.codes.count, 1]))]
        var state = "{\"quant_type\": \"\(matrix.type.rawValue)\", \"blocksize\": \(matrix.blockSize), "
            + "\"dtype\": \"float32\", \"shape\": [\(matrix.rows), \(matrix.cols)]"
        switch matrix.absmax {
        case let .plain(values):
            out.append((name + ".absmax", try Tensor(shape: [values.count], values: values)))
            out.append((name + ".quant_map", try Tensor(shape: [16], values: matrix.quantMap)))
        case let .doubleQuantized(d):
            out.append((name + ".absmax", bytesTensor(d.codes, shape: [d.codes.count])))
            out.append((name + ".quant_map", try Tensor(shape: [16], values: matrix.quantMap)))
            out.append((name + ".nested_absmax", try Tensor(shape: [d.absmax2.count], values: d.absmax2)))
            let map = DynamicCodebook.signed.values
            out.append((name + ".nested_quant_map", try Tensor(shape: [map.count], values: map)))
            // Python's json.dumps writes the float32 offset widened to a double, shortest round-trip form.
            state += ", \"nested_blocksize\": \(d.blockSize2), \"nested_dtype\": \"float32\", \"nested_offset\": \(Double(d.offset))"
        }
        state += "}"
        out.append((name + stateInfix + matrix.type.rawValue, bytesTensor(Array(state.utf8), shape: [state.utf8.count])))
        return out
    }

    /// The names of the weights stored in 4 bits among `names` (those with a quant-state tensor).
    public static func quantizedWeights(in names: [String]) -> [String] {
        names.compactMap { n in n.range(of: stateInfix).map { String(n[..<$0.lowerBound]) } }.sorted()
    }

    /// True for a tensor that belongs to a 4-bit weight in `quantized` but is not the weight itself.
    public static func isCompanion(_ name: String, of quantized: Set<String>) -> Bool {
        if let r = name.range(of: stateInfix) { return quantized.contains(String(name[..<r.lowerBound])) }
        return companionSuffixes.contains { s in name.hasSuffix(s) && quantized.contains(String(name.dropLast(s.count))) }
    }

    /// Reads the 4-bit weight `name` from `folder`, validating every field against the shape
    /// and tables bitsandbytes uses. Errors name the shard and the tensor.
    public static func matrix(named name: String, in folder: SafetensorsFolder) throws -> FourBitMatrix {
        let file = folder.file(containing: name)?.path ?? folder.url.path
        func bad(_ tensor: String, _ reason: String) -> FormatError { .invalidTensor(file: file, tensor: tensor, reason: reason) }
        func need(_ tensor: String) throws -> Tensor {
            guard let shard = folder.file(containing: tensor) else { throw FormatError.tensorNotFound(file: file, tensor: tensor) }
            return try shard.tensor(tensor)
        }
        guard let stateName = folder.names.first(where: { $0.hasPrefix(name + stateInfix) }) else {
            throw FormatError.tensorNotFound(file: file, tensor: name + stateInfix + "nf4")
        }
        let stateTensor = try need(stateName)
        guard stateTensor.dtype == .u8, stateTensor.rank == 1 else { throw bad(stateName, "expected uint8 JSON bytes, found \(stateTensor.dtype) \(stateTensor.shape)") }
        let json = stateTensor.withUnsafeBytes { Data($0) }
        guard let state = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw bad(stateName, "is not a JSON object")
        }
        guard let typeName = state["quant_type"] as? String, let type = FourBitType(rawValue: typeName),
              stateName.hasSuffix(stateInfix + typeName) else {
            throw bad(stateName, "quant_type must be nf4 or fp4 and match the tensor name, found \(state["quant_type"] ?? "nothing")")
        }
        guard let blockSize = state["blocksize"] as? Int else { throw bad(stateName, "blocksize is missing") }
        guard let shape = state["shape"] as? [Int], shape.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw bad(stateName, "shape must be [rows, columns], found \(state["shape"] ?? "nothing")")
        }
        let (rows, cols) = (shape[0], shape[1])
        let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, count < Int.max / 2 else { throw bad(stateName, "shape \(shape) is too large") }
        let packedCount = (count + 1) / 2
        let weight = try need(name)
        guard weight.dtype == .u8, weight.count == packedCount else {
            throw bad(name, "expected uint8 [\(packedCount), 1] packed codes for a [\(rows), \(cols)] matrix, found \(weight.dtype) \(weight.shape)")
        }
        let quantMap = try need(name + ".quant_map")
        guard quantMap.dtype == .f32, quantMap.floats == type.quantMap else {
            throw bad(name + ".quant_map", "is not bitsandbytes' \(type.encodingName) table (custom code tables are not supported)")
        }
        let absmaxTensor = try need(name + ".absmax")
        let absmax: FourBitAbsmax
        if let nestedBlockSize = state["nested_blocksize"] as? Int {
            guard let offset = (state["nested_offset"] as? NSNumber)?.doubleValue else { throw bad(stateName, "nested_offset is missing") }
            guard absmaxTensor.dtype == .u8 else { throw bad(name + ".absmax", "expected uint8 codes with double quantization, found \(absmaxTensor.dtype)") }
            let nested = try need(name + ".nested_absmax")
            guard nested.dtype == .f32 else { throw bad(name + ".nested_absmax", "expected float32, found \(nested.dtype)") }
            let nestedMap = try need(name + ".nested_quant_map")
            guard nestedMap.dtype == .f32, nestedMap.floats == DynamicCodebook.signed.values else {
                throw bad(name + ".nested_quant_map", "is not bitsandbytes' signed dynamic map")
            }
            do {
                absmax = .doubleQuantized(try DoubleQuantizedAbsmax(codes: bytes(absmaxTensor), absmax2: nested.floats,
                                                                    offset: Float(offset), blockSize2: nestedBlockSize))
            } catch { throw bad(name + ".nested_absmax", "\(error)") }
        } else {
            guard absmaxTensor.dtype.isFloatingPoint else { throw bad(name + ".absmax", "expected float32, found \(absmaxTensor.dtype)") }
            absmax = .plain(absmaxTensor.widened().floats)
        }
        do {
            return try FourBitMatrix(type: type, rows: rows, cols: cols, blockSize: blockSize, codes: bytes(weight), absmax: absmax)
        } catch { throw bad(name, "\(error)") }
    }

    /// config.json's `quantization_config` for a folder whose linears are 4-bit, as transformers
    /// writes it, with float32 compute (Lorikeet's precision; 16-bit compute would change results).
    public static func quantizationConfig(type: FourBitType, doubleQuant: Bool) -> [String: Any] {
        [
            "quant_method": "bitsandbytes", "load_in_4bit": true, "load_in_8bit": false,
            "_load_in_4bit": true, "_load_in_8bit": false,
            "bnb_4bit_quant_type": type.rawValue, "bnb_4bit_use_double_quant": doubleQuant,
            "bnb_4bit_compute_dtype": "float32", "bnb_4bit_quant_storage": "uint8",
            "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
            "llm_int8_skip_modules": NSNull(), "llm_int8_threshold": 6.0,
        ]
    }

    static func bytesTensor(_ values: [UInt8], shape: [Int]) -> Tensor {
        var t = Tensor(uninitialized: shape, dtype: .u8)
        t.withUnsafeMutableBytes { dst in values.withUnsafeBytes { dst.copyMemory(from: $0) } }
        return t
    }

    static func bytes(_ t: Tensor) -> [UInt8] { t.withUnsafeBytes { Array($0) } }
}
