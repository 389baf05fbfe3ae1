// Layer normalisation with a learned scale and shift (BERT-family encoders).

import Foundation

/// output[i] = (x[i] − mean) / sqrt(var + epsilon) · weight[i] + bias[i], as ggml computes
/// `ggml_norm` followed by `ggml_mul` and `ggml_add`: the sum and the sum of squared deviations
/// in Double, mean and scale in Float. `output` may alias `x`.
///
/// ```swift
/// layerNorm(hidden, weight: gamma, bias: beta, epsilon: 1e-12, into: hidden)
/// ```
public func layerNorm(
    _ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>,
    epsilon: Float, into output: UnsafeMutableBufferPointer<Float>
) {
    require(x.count == output.count, "layerNorm: input \(x.count), output \(output.count) differ")
    require(weight.count == x.count && bias.count == x.count,
            "layerNorm: weight \(weight.count), bias \(bias.count), input \(x.count) differ")
    guard let source = x.baseAddress, let y = output.baseAddress, let w = weight.baseAddress,
        let b = bias.baseAddress
    else { return }
    let count = x.count
    let sum = Float(wideSumDouble(count) { Double(source[$0]) })
    let mean = sum / Float(count)
    let deviations = wideSumDouble(count) { Double((source[$0] - mean) * (source[$0] - mean)) }
    let scale = 1 / (Float(deviations / Double(count)) + epsilon).squareRoot()
    for i in 0..<count { y[i] = (source[i] - mean) * scale * w[i] + b[i] }
}

/// Reference twin of `layerNorm` (sequential Double sums).
public func layerNormReference(
    _ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>,
    epsilon: Float, into output: UnsafeMutableBufferPointer<Float>
) {
    require(x.count == output.count && weight.count == x.count && bias.count == x.count, "layerNorm: sizes differ")
    var sum = 0.0
    for v in x { sum += Double(v) }
    let mean = Float(sum) / Float(x.count)
    var deviations = 0.0
    for v in x { deviations += Double((v - mean) * (v - mean)) }
    let scale = 1 / (Float(deviations / Double(x.count)) + epsilon).squareRoot()
    for i in 0..<x.count { output[i] = (x[i] - mean) * scale * weight[i] + bias[i] }
}

extension GeluHalfTable {
    /// x[i] = gelu(x[i]) through llama.cpp's binary16 table (its CPU `ggml_vec_gelu_f32`): 0 at
    /// or below −10, x at or above 10, else the table's value for x rounded to binary16.
    public static func gelu(_ x: UnsafeMutableBufferPointer<Float>) {
        table.withUnsafeBufferPointer { table in
            for i in 0..<x.count {
                let value = x[i]
                x[i] = value <= -10 ? 0 : value >= 10 ? value : table[Int(floatToHalf(value))]
            }
        }
    }

    /// Reference twin of ``gelu(_:)``: the same rounding, computed directly without the table.
    public static func geluReference(_ x: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<x.count {
            let value = x[i]
            if value <= -10 {
                x[i] = 0
            } else if value < 10 {
                let h = halfToFloatReference(floatToHalfReference(value))
                let inner = Float(0.797_884_560_802_865_4) * h * fmaf(0.044715 * h, h, 1)
                x[i] = halfToFloatReference(floatToHalfReference(0.5 * h * (1 + tanhf(inner))))
            }
        }
    }
}
