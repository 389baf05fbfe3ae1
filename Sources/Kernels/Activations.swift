// Softmax and the gated feed-forward activations.

import Foundation

/// In-place softmax of `x`: exp(x - max) / sum. A row that is entirely -inf (fully masked)
/// becomes all zeros rather than NaN.
public func softmax(_ x: UnsafeMutableBufferPointer<Float>) {
    guard let base = x.baseAddress, x.count > 0 else { return }
    let count = x.count
    let maximum = wideMax(base, count)
    guard maximum > -.infinity else {
        base.update(repeating: 0, count: count)
        return
    }
    for i in 0..<count { base[i] = fastExp(base[i] - maximum) }
    let scale = Float(1 / wideSumDouble(count) { Double(base[$0]) })  // Double sum, as ggml
    for i in 0..<count { base[i] *= scale }
}

/// Reference twin of `softmax` (libm exp, sums in Double).
public func softmaxReference(_ x: UnsafeMutableBufferPointer<Float>) {
    guard x.count > 0 else { return }
    let maximum = x.max()!
    guard maximum > -.infinity else {
        for i in 0..<x.count { x[i] = 0 }
        return
    }
    var sum = 0.0
    var exps = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
        exps[i] = Double(expReference(x[i] - maximum))
        sum += exps[i]
    }
    for i in 0..<x.count { x[i] = Float(exps[i] / sum) }
}

/// SwiGLU: output[i] = silu(gate[i]) * up[i] (llama, qwen2 feed-forward). `output` may alias
/// either input.
public func swiglu(
    gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
) {
    require(gate.count == up.count && up.count == output.count,
            "swiglu: gate \(gate.count), up \(up.count), output \(output.count) differ")
    guard let g = gate.baseAddress, let u = up.baseAddress, let y = output.baseAddress else { return }
    // Through a stack buffer: written straight into `output`, which the model passes as `gate`
    // itself, the loop failed LLVM's run-time overlap check and ran one element at a time.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { buffer in
        let t = buffer.baseAddress!
        var start = 0
        while start < output.count {
            let count = min(256, output.count - start)
            let gs = g + start, us = u + start
            for i in 0..<count { t[i] = silu(gs[i]) * us[i] }
            (y + start).update(from: t, count: count)
            start += count
        }
    }
}

/// Reference twin of `swiglu`.
public func swigluReference(
    gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
) {
    require(gate.count == up.count && up.count == output.count, "swiglu: sizes differ")
    for i in 0..<output.count { output[i] = siluReference(gate[i]) * up[i] }
}

/// GeGLU: output[i] = gelu_tanh(gate[i]) * up[i] (gemma feed-forward). `output` may alias
/// either input.
public func geglu(
    gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
) {
    require(gate.count == up.count && up.count == output.count,
            "geglu: gate \(gate.count), up \(up.count), output \(output.count) differ")
    guard let g = gate.baseAddress, let u = up.baseAddress, let y = output.baseAddress else { return }
    for i in 0..<output.count { y[i] = geluTanh(g[i]) * u[i] }
}

/// Reference twin of `geglu`.
public func gegluReference(
    gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
) {
    require(gate.count == up.count && up.count == output.count, "geglu: sizes differ")
    for i in 0..<output.count { output[i] = geluTanhReference(gate[i]) * up[i] }
}

/// Largest of `count` values with 32 independent lanes (vectorises; NaNs are not propagated).
@inline(__always)
func wideMax(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { lanes in
        lanes.initialize(repeating: -.infinity)
        var base = 0
        while base &+ 32 <= count {
            for lane in 0..<32 { lanes[lane] = Swift.max(lanes[lane], x[base &+ lane]) }
            base &+= 32
        }
        var result: Float = -.infinity
        for lane in 0..<32 { result = Swift.max(result, lanes[lane]) }
        while base < count {
            result = Swift.max(result, x[base])
            base &+= 1
        }
        return result
    }
}

/// GELU as llama.cpp's CPU backend computes it: the input rounded to binary16 and looked up in a
/// table of binary16 results (saturating to 0 below −10 and to x above 10). Gemma's logits then
/// round the same way as the reference engine's; ``geglu(gate:up:into:)`` is the accurate one.
public enum GeluHalfTable {
    /// gelu_tanh of every binary16 value, rounded to binary16 and widened back. Computed in the
    /// operations of ggml's `ggml_gelu_f32` as GCC compiles it (`1 + GELU_COEF_A*x*x` contracted
    /// into one fused multiply-add, libm's `tanhf`): all 65,536 entries equal llama.cpp's
    /// `ggml_table_gelu_f16` (checked against the table dumped from its library; computing the
    /// inner polynomial without the fused step, or tanh in Double, leaves one entry different).
    static let table: [Float] = (0..<65536).map { bits in
        halfToFloat(floatToHalf(geluTableValue(halfToFloat(UInt16(bits)))))
    }

    /// The table's binary16 result for the binary16 input `bits` (what llama.cpp's
    /// `ggml_table_gelu_f16[bits]` holds).
    public static func entry(_ bits: UInt16) -> UInt16 { floatToHalf(table[Int(bits)]) }

    @inline(__always)
    static func geluTableValue(_ x: Float) -> Float {
        let polynomial = Float(1).addingProduct(0.044715 * x, x)
        let inner = Float(0.797_884_560_802_865_4) * x * polynomial
        return 0.5 * x * (1 + tanhf(inner))
    }

    /// output[i] = gelu_table(gate[i]) * up[i]; `output` may alias either input.
    public static func geglu(
        gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
    ) {
        require(gate.count == up.count && up.count == output.count,
                "geglu: gate \(gate.count), up \(up.count), output \(output.count) differ")
        table.withUnsafeBufferPointer { table in
            for i in 0..<output.count {
                let x = gate[i]
                let gelu: Float = x <= -10 ? 0 : x >= 10 ? x : table[Int(floatToHalf(x))]
                output[i] = gelu * up[i]
            }
        }
    }

    /// Reference twin: the same rounding, computed directly in Double without the table.
    public static func gegluReference(
        gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>
    ) {
        for i in 0..<output.count {
            let x = gate[i]
            let gelu: Float
            if x <= -10 {
                gelu = 0
            } else if x >= 10 {
                gelu = x
            } else {
                let h = halfToFloatReference(floatToHalfReference(x))
                let inner = Float(0.797_884_560_802_865_4) * h * fmaf(0.044715 * h, h, 1)
                let y: Float = 0.5 * h * (1 + tanhf(inner))
                gelu = halfToFloatReference(floatToHalfReference(y))
            }
            output[i] = gelu * up[i]
        }
    }
}
