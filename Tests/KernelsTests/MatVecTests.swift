import Kernels
import Testing

/// Matrix products: threaded and tiled paths against the scalar reference, and shape checks.
@Suite struct MatVecTests {
    static let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]

    /// Fills a weight matrix of `format` and runs `body` with it.
    func withMatrix<R>(
        _ format: any QuantFormat.Type, rows: Int, columns: Int, seed: UInt64, _ body: (WeightMatrix) throws -> R
    ) throws -> R {
        let bytes = randomWeights(format, rows: rows, columns: columns, seed: seed)
        return try bytes.withUnsafeBytes { raw in
            let matrix = try WeightMatrix(name: "test", format: format, rows: rows, columns: columns,
                                          data: raw.baseAddress!, byteCount: raw.count)
            return try body(matrix)
        }
    }

    @Test(arguments: weightFormats.map { $0.name }, [1, 3, 37])
    func productMatchesReference(_ name: String, batch: Int) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = format.blockSize == 256 ? 512 : 96
        let rows = 53  // not a multiple of the row tile (16) or grain (4)
        try withMatrix(format, rows: rows, columns: columns, seed: 77) { matrix in
            let x = randomFloats(batch * columns, seed: 78)
            let activations = try QuantizedActivations(for: matrix, capacity: batch)
            x.withUnsafeBufferPointer { activations.quantize($0, rows: batch) }
            var reference = [Float](repeating: .nan, count: batch * rows)
            reference.withUnsafeMutableBufferPointer { matrix.multiplyReference(activations, into: $0) }
            // Per-output magnitude for the bound: sum |w||a| of the dequantised operands.
            var magnitudes = [Double](repeating: 0, count: batch * rows)
            var wRow = [Float](repeating: 0, count: columns)
            for r in 0..<rows {
                wRow.withUnsafeMutableBufferPointer { matrix.dequantizeRow(r, into: $0) }
                for b in 0..<batch {
                    let a = x[b * columns..<(b + 1) * columns]
                    magnitudes[b * rows + r] = zip(wRow, a).reduce(0) { $0 + abs(Double($1.0 * $1.1)) }
                }
            }
            for pool in Self.pools + [nil] {
                var output = [Float](repeating: .nan, count: batch * rows)
                output.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: pool) }
                for i in 0..<output.count {
                    #expect(abs(Double(output[i] - reference[i])) <= 1e-5 * magnitudes[i] + 1e-30,
                            "\(name) batch \(batch) threads \(pool?.threadCount ?? 0) [\(i)]: \(output[i]) vs \(reference[i])")
                }
                // The float-input entry points quantise the same way.
                var viaFloats = [Float](repeating: .nan, count: batch * rows)
                x.withUnsafeBufferPointer { input in
                    viaFloats.withUnsafeMutableBufferPointer { out in
                        if batch == 1 { matrix.matVec(input, into: out, pool: pool) } else { matrix.matMat(input, batch: batch, into: out, pool: pool) }
                    }
                }
                #expect(viaFloats == output)
            }
        }
    }

    /// A product large enough to be split across threads gives exactly the serial result (each
    /// output is one dot, whichever thread computes it).
    @Test func threadedProductIsBitIdenticalToSerial() throws {
        try withMatrix(Q4_K.self, rows: 300, columns: 1024, seed: 3) { matrix in
            let x = randomFloats(1024 * 5, seed: 4)
            for batch in [1, 5] {
                let input = Array(x[0..<batch * 1024])
                var serial = [Float](repeating: 0, count: batch * 300), threaded = serial
                input.withUnsafeBufferPointer { i in
                    serial.withUnsafeMutableBufferPointer { matrix.matMat(i, batch: batch, into: $0, pool: nil) }
                    threaded.withUnsafeMutableBufferPointer { matrix.matMat(i, batch: batch, into: $0, pool: Self.pools[2]) }
                }
                #expect(serial == threaded)
            }
        }
    }

    @Test func weightMatrixChecksItsShape() {
        let bytes = [UInt8](repeating: 0, count: 18 * 4)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            #expect(throws: KernelError.columnsNotMultipleOfBlock(name: "w", format: "Q4_0", columns: 48, blockSize: 32)) {
                try WeightMatrix(name: "w", format: Q4_0.self, rows: 1, columns: 48, data: base, byteCount: 72)
            }
            #expect(throws: KernelError.byteCountMismatch(name: "w", format: "Q4_0", expected: 54, actual: 72)) {
                try WeightMatrix(name: "w", format: Q4_0.self, rows: 3, columns: 32, data: base, byteCount: 72)
            }
            #expect(throws: KernelError.invalidShape(name: "w", rows: 0, columns: 32)) {
                try WeightMatrix(name: "w", format: Q4_0.self, rows: 0, columns: 32, data: base, byteCount: 0)
            }
            #expect(throws: KernelError.invalidShape(name: "w", rows: Int.max / 2, columns: 64)) {
                try WeightMatrix(name: "w", format: Q4_0.self, rows: Int.max / 2, columns: 64, data: base, byteCount: 72)
            }
            #expect(throws: KernelError.misaligned(name: "w", format: "F32", alignment: 4)) {
                try WeightMatrix(name: "w", format: F32.self, rows: 1, columns: 4, data: base + 1, byteCount: 16)
            }
            #expect(throws: KernelError.self) {
                try WeightMatrix(name: "w", ggmlType: 16, rows: 1, columns: 32, data: base, byteCount: 18)
            }
            let matrix = try? WeightMatrix(name: "w", ggmlType: 2, rows: 4, columns: 32, data: base, byteCount: 72)
            #expect(matrix?.rowByteCount == 18)
            #expect(matrix?.format.name == "Q4_0")
        }
    }

    @Test func dequantizeRowReadsTheRightRow() throws {
        try withMatrix(Q6_K.self, rows: 3, columns: 256, seed: 11) { matrix in
            let bytes = UnsafeRawBufferPointer(start: matrix.data, count: 3 * matrix.rowByteCount)
            let all = dequantized(Array(bytes), as: Q6_K.self, count: 3 * 256)
            var row = [Float](repeating: 0, count: 256)
            row.withUnsafeMutableBufferPointer { matrix.dequantizeRow(2, into: $0) }
            #expect(row == Array(all[512..<768]))
        }
    }
}
