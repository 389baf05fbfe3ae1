import Kernels
import Testing

/// The batched product's unpacked path (weight rows unpacked once to 16-bit quants) on long rows:
/// against the scalar reference, and bit for bit against the one-row product.
@Suite struct BatchedProductTests {
    @Test(arguments: ["Q4_K", "Q6_K", "Q8_0", "Q5_0", "Q4_1"], [2, 9])
    func longRowsMatchReference(_ name: String, batch: Int) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let rows = 21, columns = 2304  // 9 super-blocks: three chunks of 768 columns
        let bytes = randomWeights(format, rows: rows, columns: columns, seed: 91)
        try bytes.withUnsafeBytes { raw in
            let matrix = try WeightMatrix(name: "test", format: format, rows: rows, columns: columns,
                                          data: raw.baseAddress!, byteCount: raw.count)
            let x = randomFloats(batch * columns, seed: 92)
            let activations = try QuantizedActivations(for: matrix, capacity: batch)
            x.withUnsafeBufferPointer { activations.quantize($0, rows: batch) }
            var reference = [Float](repeating: .nan, count: batch * rows)
            reference.withUnsafeMutableBufferPointer { matrix.multiplyReference(activations, into: $0) }
            var magnitudes = [Double](repeating: 0, count: batch * rows)
            var wRow = [Float](repeating: 0, count: columns)
            for r in 0..<rows {
                wRow.withUnsafeMutableBufferPointer { matrix.dequantizeRow(r, into: $0) }
                for b in 0..<batch {
                    let a = x[b * columns..<(b + 1) * columns]
                    magnitudes[b * rows + r] = zip(wRow, a).reduce(0) { $0 + abs(Double($1.0 * $1.1)) }
                }
            }
            for pool in [nil, ThreadPool(threads: 2)] {
                var output = [Float](repeating: .nan, count: batch * rows)
                output.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: pool) }
                for i in 0..<output.count {
                    #expect(abs(Double(output[i] - reference[i])) <= 1e-5 * magnitudes[i] + 1e-30,
                            "\(name) batch \(batch) [\(i)]: \(output[i]) vs \(reference[i])")
                }
            }
        }
    }

    /// Continuous batching needs a row's result not to depend on the batch it is computed in:
    /// small batches (per-pair dots, four-row kernels; with VNNI row dots at 2, mirrored pair
    /// panels at 3, 7 and 8, K-quant ones at 7 and 8), large ones (unpacked rows and register
    /// tiles, or with VNNI 16-row panels: part-filled at 11 and 14, full at 16, one 16-row panel
    /// and a mirrored one at 17, two 16-row panels and a mirrored one at 33) and their edges (19
    /// weight rows: the last pair is one row; 45 blocks of 32 values, not a multiple of 8 or 2).
    @Test(arguments: ["Q4_K", "Q6_K", "Q8_0", "Q5_0", "Q4_1", "Q5_K", "Q4_0", "Q5_1"], [2, 3, 7, 8, 11, 14, 16, 17, 33])
    func batchedRowsEqualSingleRows(_ name: String, batch: Int) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let rows = 19, columns = format.blockSize == 256 ? 1536 : 32 * 45
        let bytes = randomWeights(format, rows: rows, columns: columns, seed: 93)
        try bytes.withUnsafeBytes { raw in
            let matrix = try WeightMatrix(name: "test", format: format, rows: rows, columns: columns,
                                          data: raw.baseAddress!, byteCount: raw.count)
            let x = randomFloats(batch * columns, seed: 94)
            var batched = [Float](repeating: .nan, count: batch * rows)
            x.withUnsafeBufferPointer { input in
                batched.withUnsafeMutableBufferPointer { matrix.matMat(input, batch: batch, into: $0, pool: ThreadPool(threads: 2)) }
            }
            for b in 0..<batch {
                var single = [Float](repeating: .nan, count: rows)
                Array(x[b * columns..<(b + 1) * columns]).withUnsafeBufferPointer { input in
                    single.withUnsafeMutableBufferPointer { matrix.matVec(input, into: $0) }
                }
                #expect(single == Array(batched[b * rows..<(b + 1) * rows]), "\(name) batch \(batch) row \(b)")
            }
        }
    }
}
