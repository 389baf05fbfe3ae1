import Kernels
import Testing

/// On AVX-512 VNNI the kernels round as llama.cpp's x86 build: every product, single-row or
/// batched, equals its scalar twin in that order (LlamaCppOrderReferences.swift) bit for bit,
/// including the rows llama.cpp rounds differently because of their batch (`RowOrder`).
@Suite struct LlamaCppOrderTests {
    /// Random weights and activation rows quantised for `format`; calls `body` with the matrix,
    /// the activations, the weight bytes and the activation row bytes.
    static func withProduct(
        _ name: String, rows: Int, batch: Int, _ body: (WeightMatrix, QuantizedActivations, UnsafeRawPointer, Int) throws -> Void
    ) throws {
        let format = try #require(weightFormats.first { $0.name == name })
        let columns = format.blockSize == 256 ? 1536 : 32 * 45
        let bytes = randomWeights(format, rows: rows, columns: columns, seed: 301)
        try bytes.withUnsafeBytes { raw in
            let matrix = try WeightMatrix(name: "test", format: format, rows: rows, columns: columns,
                                          data: raw.baseAddress!, byteCount: raw.count)
            let activations = try QuantizedActivations(for: matrix, capacity: batch)
            randomFloats(batch * columns, seed: 302).withUnsafeBufferPointer { activations.quantize($0, rows: batch) }
            try body(matrix, activations, raw.baseAddress!, matrix.rowByteCount)
        }
    }

    @Test(.enabled(if: productsRoundAsLlamaCppX86, "llama.cpp's x86 float order is what the AVX-512 VNNI kernels compute"), arguments: ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"], [1, 2, 5, 11, 17])
    func blocksOf32(_ name: String, batch: Int) throws {
        try Self.withProduct(name, rows: 19, batch: batch) { matrix, activations, weights, rowBytes in
            var output = [Float](repeating: .nan, count: batch * matrix.rows)
            output.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: ThreadPool(threads: 2)) }
            for b in 0..<batch {
                for r in 0..<matrix.rows {
                    let expected = matrix.format.dotLlamaCppOrderReference(
                        weights + r * rowBytes, activations.row(b), count: matrix.columns)
                    #expect(output[b * matrix.rows + r].bitPattern == expected.bitPattern, "\(name) row \(r) of batch \(b)")
                }
            }
        }
    }

    /// Rows 0 ..< 4k grouped in fours (llama.cpp's gemm), the rest one at a time (its gemv).
    @Test(.enabled(if: productsRoundAsLlamaCppX86, "llama.cpp's x86 float order is what the AVX-512 VNNI kernels compute"), arguments: [1, 3, 6, 9, 16, 19])
    func q4KRowsInFoursAndAlone(batch: Int) throws {
        try Self.withProduct("Q4_K", rows: 19, batch: batch) { matrix, activations, weights, rowBytes in
            let orders: [RowOrder] = (0..<batch).map { $0 < batch - batch % 4 ? .groupedInFours : [] }
            var output = [Float](repeating: .nan, count: batch * matrix.rows)
            output.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: ThreadPool(threads: 2), rowOrders: orders) }
            for b in 0..<batch {
                for r in 0..<matrix.rows {
                    let expected = Q4_K.dotLlamaCppOrderReference(
                        weights + r * rowBytes, activations.row(b), count: matrix.columns, inFours: orders[b].contains(.groupedInFours))
                    #expect(output[b * matrix.rows + r].bitPattern == expected.bitPattern, "row \(r) of batch \(b)")
                }
            }
        }
    }

    /// Rows of a batch of 8 or more through llama.cpp's tiled kernel, the others through `vec_dot`;
    /// batches with both kinds of rows too (a sequence of 8 beside single decode rows).
    @Test(.enabled(if: productsRoundAsLlamaCppX86, "llama.cpp's x86 float order is what the AVX-512 VNNI kernels compute"), arguments: [1, 5, 9, 16, 19])
    func q6KTiledAndVecDotRows(batch: Int) throws {
        try Self.withProduct("Q6_K", rows: 19, batch: batch) { matrix, activations, weights, rowBytes in
            let orders: [RowOrder] = (0..<batch).map { batch >= 8 && $0 % 5 != 4 ? .inBatchOfEight : [] }
            var output = [Float](repeating: .nan, count: batch * matrix.rows)
            output.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: ThreadPool(threads: 2), rowOrders: orders) }
            for b in 0..<batch {
                for r in 0..<matrix.rows {
                    let expected = Q6_K.dotLlamaCppOrderReference(
                        weights + r * rowBytes, activations.row(b), count: matrix.columns, tiled: orders[b].contains(.inBatchOfEight))
                    #expect(output[b * matrix.rows + r].bitPattern == expected.bitPattern, "row \(r) of batch \(b)")
                }
            }
        }
    }
}

/// `ProductOrder.blockSums` (what `hearth serve` uses): every batched row equals the same row
/// multiplied alone, bit for bit, at every panel shape, and stays within rounding of the reference.
@Suite struct BlockSumOrderTests {
    @Test(arguments: ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q6_K"], [2, 3, 8, 11, 17, 33])
    func batchedRowsEqualSingleRows(_ name: String, batch: Int) throws {
        try LlamaCppOrderTests.withProduct(name, rows: 19, batch: batch) { matrix, activations, weights, rowBytes in
            var batched = [Float](repeating: .nan, count: batch * matrix.rows)
            batched.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0, pool: ThreadPool(threads: 2), order: .blockSums) }
            var reference = [Float](repeating: .nan, count: batch * matrix.rows)
            reference.withUnsafeMutableBufferPointer { matrix.multiplyReference(activations, into: $0) }
            // The same floats `withProduct` quantised, one row at a time.
            let x = randomFloats(batch * matrix.columns, seed: 302)
            let single = try QuantizedActivations(for: matrix, capacity: 1)
            for b in 0..<batch {
                x[b * matrix.columns..<(b + 1) * matrix.columns].withUnsafeBufferPointer { single.quantize($0, rows: 1) }
                var alone = [Float](repeating: .nan, count: matrix.rows)
                alone.withUnsafeMutableBufferPointer { matrix.multiply(single, into: $0, order: .blockSums) }
                for r in 0..<matrix.rows {
                    let value = batched[b * matrix.rows + r]
                    #expect(value.bitPattern == alone[r].bitPattern, "\(name) row \(r) of batch \(b)")
                    if name == "Q6_K" && productsRoundAsLlamaCppX86 {
                        let tiled = Q6_K.dotLlamaCppOrderReference(
                            weights + r * rowBytes, activations.row(b), count: matrix.columns, tiled: true)
                        #expect(value.bitPattern == tiled.bitPattern, "Q6_K row \(r) of batch \(b): tiled order")
                    }
                    #expect(abs(value - reference[b * matrix.rows + r]) <= 1e-3 * max(1, abs(reference[b * matrix.rows + r])))
                }
            }
        }
    }
}
