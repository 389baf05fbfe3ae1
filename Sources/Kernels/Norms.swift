// RMS normalisation (llama, qwen2, gemma; gemma's "1 + weight" is already folded into the GGUF
// weights by the converter).

/// output[i] = x[i] / sqrt(mean(x^2) + epsilon) * weight[i] (weight nil: no scaling).
/// `output` may alias `x`.
///
/// ```swift
/// rmsNorm(hidden, weight: attnNorm, epsilon: 1e-6, into: normed)
/// ```
public func rmsNorm(
    _ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>?, epsilon: Float,
    into output: UnsafeMutableBufferPointer<Float>
) {
    require(x.count == output.count, "rmsNorm: input \(x.count), output \(output.count) differ")
    require(weight == nil || weight!.count == x.count, "rmsNorm: weight \(weight?.count ?? 0), input \(x.count) differ")
    guard let source = x.baseAddress, let y = output.baseAddress else { return }
    let count = x.count
    // Squares are summed in Double, as ggml does (its `ggml_float`), in vectorisable lanes.
    let sumOfSquares = wideSumDouble(count) { Double(source[$0] * source[$0]) }
    // The mean rounded to Float, then Float arithmetic: ggml's `1.0f/sqrtf(mean + eps)`.
    let mean = Float(sumOfSquares / Double(count))
    let scale = 1 / (mean + epsilon).squareRoot()
    if let w = weight?.baseAddress {
        for i in 0..<count { y[i] = source[i] * scale * w[i] }
    } else {
        for i in 0..<count { y[i] = source[i] * scale }
    }
}

/// Reference twin of `rmsNorm` (one sequential Double sum).
public func rmsNormReference(
    _ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>?, epsilon: Float,
    into output: UnsafeMutableBufferPointer<Float>
) {
    require(x.count == output.count, "rmsNorm: sizes differ")
    var sum = 0.0
    for v in x { sum += Double(v * v) }
    let mean = Float(sum / Double(x.count))
    let scale = 1 / (mean + epsilon).squareRoot()
    for i in 0..<x.count {
        output[i] = x[i] * scale * (weight?[i] ?? 1)
    }
}

/// Sums `term(i)` for i in 0..<count in 16 independent Double lanes (see `wideSum`).
@inline(__always)
func wideSumDouble(_ count: Int, _ term: (Int) -> Double) -> Double {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { lanes in
        lanes.initialize(repeating: 0)
        var base = 0
        while base &+ 16 <= count {
            for lane in 0..<16 { lanes[lane] += term(base &+ lane) }
            base &+= 16
        }
        var total: Double = 0
        for lane in 0..<16 { total += lanes[lane] }
        while base < count {
            total += term(base)
            base &+= 1
        }
        return total
    }
}
