// Checked views of quantised weights and buffers of quantised activations.

/// A read-only matrix of `rows` x `columns` weights stored row by row in a block format, e.g. a
/// tensor of an mmap'd GGUF file (GGUF's first dimension is `columns`).
///
/// The view does not own its memory: whoever created it keeps the bytes alive and unchanged for
/// as long as the view is used (weights are immutable shared state).
///
/// ```swift
/// let w = try WeightMatrix(name: "blk.0.ffn_up.weight", ggmlType: 12, rows: 1536, columns: 576,
///                          data: pointer, byteCount: size)
/// w.matVec(x, into: y, pool: pool)
/// ```
public struct WeightMatrix: @unchecked Sendable {
    /// Used in error messages (the tensor name).
    public let name: String
    public let format: any QuantFormat.Type
    public let rows: Int
    public let columns: Int
    /// Bytes of one row.
    public let rowByteCount: Int
    /// Start of row 0.
    public let data: UnsafeRawPointer

    /// Checks that `byteCount` bytes at `data` hold exactly `rows` rows of `columns` values.
    public init(
        name: String = "", format: any QuantFormat.Type, rows: Int, columns: Int,
        data: UnsafeRawPointer, byteCount: Int
    ) throws(KernelError) {
        guard rows > 0, columns > 0 else { throw .invalidShape(name: name, rows: rows, columns: columns) }
        guard let rowBytes = format.rowByteCount(columns: columns) else {
            throw .columnsNotMultipleOfBlock(name: name, format: format.name, columns: columns, blockSize: format.blockSize)
        }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw .invalidShape(name: name, rows: rows, columns: columns) }
        guard total == byteCount else {
            throw .byteCountMismatch(name: name, format: format.name, expected: total, actual: byteCount)
        }
        guard Int(bitPattern: data) % format.rowAlignment == 0 else {
            throw .misaligned(name: name, format: format.name, alignment: format.rowAlignment)
        }
        self.name = name
        self.format = format
        self.rows = rows
        self.columns = columns
        self.rowByteCount = rowBytes
        self.data = data
    }

    /// As above, with the format given by its ggml type id; throws for an unsupported type.
    public init(
        name: String = "", ggmlType: UInt32, rows: Int, columns: Int, data: UnsafeRawPointer, byteCount: Int
    ) throws(KernelError) {
        guard let format = quantFormat(ggmlType: ggmlType) else {
            throw .invalidParameter("\(name.isEmpty ? "" : "\(name): ")unsupported ggml type \(ggmlType) for weights")
        }
        try self.init(name: name, format: format, rows: rows, columns: columns, data: data, byteCount: byteCount)
    }

    /// Start of row `index`.
    public func row(_ index: Int) -> UnsafeRawPointer {
        require(index >= 0 && index < rows, "\(name): row \(index) out of 0..<\(rows)")
        return data + index * rowByteCount
    }

    /// Dequantises row `index` (e.g. one token's embedding) into `output` (`columns` floats).
    public func dequantizeRow(_ index: Int, into output: UnsafeMutableBufferPointer<Float>) {
        require(output.count == columns, "\(name): output has \(output.count) floats, expected \(columns)")
        format.dequantize(row: row(index), count: columns, into: output.baseAddress!)
    }
}

/// Rows of activations quantised to one activation format, ready to be dotted with every weight
/// matrix whose format uses it (quantise once, multiply by Q, K and V).
///
/// Per-request scratch: not shareable between threads while being written.
public final class QuantizedActivations {
    public let format: any ActivationFormat.Type
    public let columns: Int
    /// Rows the buffer can hold.
    public let capacity: Int
    /// Rows currently held (set by `quantize`).
    public private(set) var rows: Int = 0
    /// Bytes of one quantised row.
    public let rowByteCount: Int
    let storage: UnsafeMutableRawPointer

    /// A buffer for up to `capacity` rows of `columns` values in `format`.
    public init(format: any ActivationFormat.Type, columns: Int, capacity: Int = 1) throws(KernelError) {
        guard capacity > 0, columns > 0 else { throw .invalidShape(name: "activations", rows: capacity, columns: columns) }
        guard let rowBytes = format.rowByteCount(columns: columns) else {
            throw .columnsNotMultipleOfBlock(name: "activations", format: format.name, columns: columns, blockSize: format.blockSize)
        }
        let (total, overflow) = capacity.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw .invalidShape(name: "activations", rows: capacity, columns: columns) }
        self.format = format
        self.columns = columns
        self.capacity = capacity
        self.rowByteCount = rowBytes
        self.storage = .allocate(byteCount: max(total, 1), alignment: 64)
    }

    /// A buffer in the activation format that `weights` are dotted with.
    public convenience init(for weights: WeightMatrix, capacity: Int = 1) throws(KernelError) {
        try self.init(format: weights.format.activationFormat, columns: weights.columns, capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Quantises `rows` rows of `columns` floats (row-major, `x.count == rows * columns`).
    public func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, pool: ThreadPool? = nil) {
        require(rows >= 0 && rows <= capacity, "quantize: \(rows) rows, capacity \(capacity)")
        require(x.count == rows * columns, "quantize: \(x.count) floats for \(rows) x \(columns)")
        self.rows = rows
        guard rows > 0 else { return }
        let source = x.baseAddress!, columns = columns, rowBytes = rowByteCount, format = format
        let destination = storage
        let work = { (range: Range<Int>) in
            for row in range {
                format.quantize(row: source + row * columns, count: columns, into: destination + row * rowBytes)
            }
        }
        if let pool, rows > 1 { pool.parallelFor(rows, work) } else { work(0..<rows) }
    }

    /// Quantised row `index`.
    public func row(_ index: Int) -> UnsafeRawPointer {
        require(index >= 0 && index < rows, "activations: row \(index) out of 0..<\(rows)")
        return UnsafeRawPointer(storage + index * rowByteCount)
    }
}
