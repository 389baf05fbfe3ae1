import GGUF
import Kernels

/// A projection: a weight matrix still in its quantised blocks inside the memory-mapped file,
/// and an optional bias.
///
/// GGUF stores a matrix as `dimensions = [columns, rows]` (ggml's ne0, ne1): each of the `rows`
/// output features is one contiguous row of `columns` input weights.
public struct Linear: Sendable {
    public let matrix: WeightMatrix
    /// Added to every output row (qwen2's Q/K/V biases), length `rows`.
    public let bias: [Float]?
    /// LoRA adapters' pairs added to the product (see `LoRAAdapter`).
    var lora: [LoRAWeight] = []

    public var name: String { matrix.name }
    public var rows: Int { matrix.rows }
    public var columns: Int { matrix.columns }

    /// Row `row` as floats, for embedding lookups through the same matrix.
    func dequantizeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        matrix.dequantizeRow(row, into: UnsafeMutableBufferPointer(start: output, count: columns))
    }
}

/// Looks tensors up by name and checks shape and type before anything reads them.
struct TensorBinder {
    let file: GGUFFile

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    /// A matrix of `rows × columns` (GGUF dimensions `[columns, rows]`).
    func linear(_ name: String, rows: Int, columns: Int, bias biasName: String? = nil) throws -> Linear {
        guard let info = file.tensor(named: name) else { throw ModelError.missingTensor(name) }
        guard info.dimensions == [columns, rows] else {
            throw ModelError.tensorShape(name, expected: [columns, rows], found: info.dimensions)
        }
        let data = file.data(for: info)
        guard let base = data.baseAddress else { throw ModelError.missingTensor(name) }
        let matrix: WeightMatrix
        do {
            matrix = try WeightMatrix(
                name: name, ggmlType: info.type.rawValue, rows: rows, columns: columns, data: base,
                byteCount: data.count)
        } catch {
            throw ModelError.tensorType(name, "\(info.type.name): \(error)")
        }
        var bias: [Float]?
        if let biasName, has(biasName) { bias = try vector(biasName, length: rows) }
        return Linear(matrix: matrix, bias: bias)
    }

    /// A one-dimensional tensor of `length` values, converted to Float once at load.
    func vector(_ name: String, length: Int) throws -> [Float] {
        guard let info = file.tensor(named: name) else { throw ModelError.missingTensor(name) }
        guard info.dimensions == [length] else {
            throw ModelError.tensorShape(name, expected: [length], found: info.dimensions)
        }
        guard let format = blockFormat(ggmlType: info.type.rawValue),
            format.rowByteCount(columns: length) == info.byteCount
        else { throw ModelError.tensorType(name, info.type.name) }
        let data = file.data(for: info)
        guard let base = data.baseAddress else { throw ModelError.missingTensor(name) }
        return [Float](unsafeUninitializedCapacity: length) { buffer, initialized in
            format.dequantize(row: base, count: length, into: buffer.baseAddress!)
            initialized = length
        }
    }

    func optionalVector(_ name: String, length: Int) throws -> [Float]? {
        has(name) ? try vector(name, length: length) : nil
    }
}
