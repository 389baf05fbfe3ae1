/// Errors from checking shapes and layouts before kernels touch memory.
public enum KernelError: Error, Equatable, CustomStringConvertible {
    /// `columns` is not a positive multiple of the format's block size.
    case columnsNotMultipleOfBlock(name: String, format: String, columns: Int, blockSize: Int)
    /// The byte count handed in differs from rows * row bytes.
    case byteCountMismatch(name: String, format: String, expected: Int, actual: Int)
    /// A row count or size is negative or too large to address.
    case invalidShape(name: String, rows: Int, columns: Int)
    /// The data does not start at the alignment the format reads with.
    case misaligned(name: String, format: String, alignment: Int)
    /// An invalid parameter (the message names it).
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .columnsNotMultipleOfBlock(name, format, columns, blockSize):
            "\(label(name))\(columns) columns is not a positive multiple of the \(format) block size \(blockSize)"
        case let .byteCountMismatch(name, format, expected, actual):
            "\(label(name))\(format) data has \(actual) bytes, expected \(expected)"
        case let .invalidShape(name, rows, columns):
            "\(label(name))invalid shape \(rows) x \(columns)"
        case let .misaligned(name, format, alignment):
            "\(label(name))\(format) data must start at a multiple of \(alignment) bytes"
        case let .invalidParameter(message):
            message
        }
    }

    private func label(_ name: String) -> String { name.isEmpty ? "" : "\(name): " }
}

/// Stops with `message` when `condition` fails, in every build configuration (the kernels are
/// built with -Ounchecked, which drops `precondition`). For caller bugs such as mismatched
/// buffer sizes; problems in file data are reported with `KernelError` instead.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
