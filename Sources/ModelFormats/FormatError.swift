// Typed errors for reading and writing model files (safetensors, GGUF). Every case names
// the file and, when known, the tensor, and says what was expected. Damaged or hostile
// files must end here, never in a trap or a huge allocation.

/// An error raised while reading or writing a model file.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    /// The file ends before a field that `context` describes (needed `needed` bytes at `offset`).
    case truncated(file: String, context: String, offset: Int, needed: Int)
    /// The file does not start with the expected magic bytes.
    case badMagic(file: String, expected: String, found: String)
    /// The format version is not one this reader supports.
    case unsupportedVersion(file: String, version: Int, supported: String)
    /// The header is malformed: bad JSON, an absurd count, a bad metadata value.
    case invalidHeader(file: String, reason: String)
    /// A tensor's element type is unknown or unsupported here.
    case unsupportedType(file: String, tensor: String, type: String)
    /// A tensor's shape is invalid (negative, overflowing, not whole blocks, too many axes).
    case invalidShape(file: String, tensor: String, reason: String)
    /// A tensor's data lies (partly) outside the data section, or is misaligned.
    case tensorOutOfBounds(file: String, tensor: String, reason: String)
    /// Two tensors' data ranges overlap.
    case overlappingTensors(file: String, tensor: String, other: String)
    /// Two tensors or metadata keys share a name.
    case duplicateName(file: String, name: String)
    /// No tensor of that name exists.
    case tensorNotFound(file: String, tensor: String)
    /// A tensor handed to a writer cannot be stored as asked.
    case invalidTensor(file: String, tensor: String, reason: String)
    /// The file could not be opened, mapped, written or renamed.
    case io(file: String, reason: String)

    /// The file the error is about.
    public var file: String {
        switch self {
        case let .truncated(f, _, _, _), let .badMagic(f, _, _), let .unsupportedVersion(f, _, _),
             let .invalidHeader(f, _), let .unsupportedType(f, _, _), let .invalidShape(f, _, _),
             let .tensorOutOfBounds(f, _, _), let .overlappingTensors(f, _, _), let .duplicateName(f, _),
             let .tensorNotFound(f, _), let .invalidTensor(f, _, _), let .io(f, _):
            f
        }
    }

    /// A message naming the file or type and what was expected.
    public var description: String {
        switch self {
        case let .truncated(f, context, offset, needed):
            "\(f): file is truncated: \(context) needs \(needed) bytes at offset \(offset)"
        case let .badMagic(f, expected, found):
            "\(f): not a valid file: expected magic \(expected), found \(found)"
        case let .unsupportedVersion(f, v, supported):
            "\(f): format version \(v) is not supported (supported: \(supported))"
        case let .invalidHeader(f, reason):
            "\(f): invalid header: \(reason)"
        case let .unsupportedType(f, t, type):
            "\(f): tensor '\(t)': element type \(type) is unknown or unsupported"
        case let .invalidShape(f, t, reason):
            "\(f): tensor '\(t)': invalid shape: \(reason)"
        case let .tensorOutOfBounds(f, t, reason):
            "\(f): tensor '\(t)': \(reason)"
        case let .overlappingTensors(f, t, other):
            "\(f): tensor '\(t)' overlaps tensor '\(other)'"
        case let .duplicateName(f, name):
            "\(f): name '\(name)' appears more than once"
        case let .tensorNotFound(f, t):
            "\(f): no tensor named '\(t)'"
        case let .invalidTensor(f, t, reason):
            "\(f): tensor '\(t)': \(reason)"
        case let .io(f, reason):
            "\(f): \(reason)"
        }
    }
}

/// Product of `dims` or nil when a size is negative or the product overflows `Int`.
func checkedProduct(_ dims: [Int]) -> Int? {
    var n = 1
    for d in dims {
        guard d >= 0 else { return nil }
        let (m, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = m
    }
    return n
}
