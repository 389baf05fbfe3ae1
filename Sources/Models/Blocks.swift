import Kernels

// The shared building blocks of every architecture's forward pass, over rows of Float32
// activations; the arithmetic itself lives in Kernels.

extension Linear {
    /// `output[b, r] = Σ_c W[r, c] · input[b, c] (+ bias[r])` for `batch` input rows.
    ///
    /// Inputs are quantised to the weight format's activation format once per row (into a
    /// buffer the arena keeps between calls), then each weight row is dotted with every
    /// activation row while it is in cache.
    /// `rowOrders`: how llama.cpp would round each row's products (see `RowOrder`).
    func apply(
        _ input: UnsafePointer<Float>, batch: Int, into output: UnsafeMutablePointer<Float>,
        scratch: ScratchArena, pool: ThreadPool, order: ProductOrder, rowOrders: [RowOrder]? = nil
    ) {
        let activations = scratch.activations(for: matrix, batch: batch)
        activations.quantize(UnsafeBufferPointer(start: input, count: batch * columns), rows: batch, pool: pool)
        matrix.multiply(
            activations, into: UnsafeMutableBufferPointer(start: output, count: batch * rows), pool: pool,
            order: order, rowOrders: rowOrders.map { Array($0.prefix(batch)) })
        // llama.cpp adds the adapters' products to W x before the bias, adapter by adapter. Rows are
        // independent, so a prompt's rows are split between the threads.
        if !lora.isEmpty {
            let columns = columns, rows = rows, adapters = lora
            pool.parallelFor(batch, grain: 1) { range in
                for adapter in adapters {
                    for index in range {
                        adapter.add(input + index * columns, columns: columns, into: output + index * rows, rows: rows)
                    }
                }
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for index in 0..<batch {
                    let row = output + index * rows
                    for r in 0..<rows { row[r] += b[r] }
                }
            }
        }
    }
}

/// Quantised-activation buffers, one per (activation format, width), kept between forward
/// passes so the token loop does not allocate.
final class ScratchArena: @unchecked Sendable {
    private var buffers: [String: QuantizedActivations] = [:]
    let batchCapacity: Int

    init(batchCapacity: Int) { self.batchCapacity = batchCapacity }

    func activations(for matrix: WeightMatrix, batch: Int) -> QuantizedActivations {
        let format = matrix.format.activationFormat
        let key = "\(format.name)/\(matrix.columns)"
        if let buffer = buffers[key], buffer.capacity >= batch { return buffer }
        // Shapes were checked when the matrix was bound, so this cannot fail.
        let buffer = try! QuantizedActivations(format: format, columns: matrix.columns, capacity: max(batch, batchCapacity))
        buffers[key] = buffer
        return buffer
    }
}

/// RMS-normalises `rows` rows of `width` values (in place when `output` is `input`).
func normRows(
    _ input: UnsafeMutablePointer<Float>, weight: [Float], rows: Int, width: Int, epsilon: Float,
    into output: UnsafeMutablePointer<Float>
) {
    weight.withUnsafeBufferPointer { w in
        for row in 0..<rows {
            rmsNorm(UnsafeBufferPointer(start: input + row * width, count: width), weight: w, epsilon: epsilon,
                    into: UnsafeMutableBufferPointer(start: output + row * width, count: width))
        }
    }
}
