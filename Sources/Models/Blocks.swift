import Foundation
import Kernels

// The shared building blocks of every architecture's forward pass. Each works on rows of
// Float32 activations; matrix products go through the quantised kernels.

extension Linear {
    /// `output[b, r] = Σ_c W[r, c] · input[b, c] (+ bias[r])` for `batch` input rows.
    ///
    /// Inputs are quantised to the weight format's activation format once per row, then every
    /// weight row is dotted with all `batch` activation rows while it is in cache.
    func apply(
        _ input: UnsafePointer<Float>, batch: Int, into output: UnsafeMutablePointer<Float>,
        scratch: ScratchArena, pool: ThreadPool
    ) {
        format.multiply(
            weights: data, rowBytes: rowBytes, rows: rows, columns: columns, input: input, batch: batch,
            output: output, scratch: scratch, pool: pool)
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

extension QuantFormat {
    static func multiply(
        weights: UnsafeRawPointer, rowBytes: Int, rows: Int, columns: Int, input: UnsafePointer<Float>,
        batch: Int, output: UnsafeMutablePointer<Float>, scratch: ScratchArena, pool: ThreadPool
    ) {
        let activationRowBytes = Activation.rowByteCount(columns: columns)!
        let activations = scratch.activationBuffer(bytes: activationRowBytes * batch)
        for index in 0..<batch {
            Activation.quantize(
                row: input + index * columns, count: columns, into: activations + index * activationRowBytes)
        }
        let quantised = UnsafeRawPointer(activations)
        pool.parallelFor(rows) { range in
            for row in range {
                dot(
                    weights + row * rowBytes, activations: quantised, activationStride: activationRowBytes,
                    activationCount: batch, count: columns, into: output + row, outputStride: rows)
            }
        }
    }
}

/// Reusable buffers for one forward pass, grown on demand and never shrunk, so the token loop
/// does not allocate once warmed up.
final class ScratchArena: @unchecked Sendable {
    private var activations: UnsafeMutableRawPointer?
    private var activationCapacity = 0

    func activationBuffer(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > activationCapacity {
            activations?.deallocate()
            activations = .allocate(byteCount: bytes, alignment: 64)
            activationCapacity = bytes
        }
        return activations!
    }

    deinit { activations?.deallocate() }
}

/// `out = x / rms(x) · weight`, summing squares in Double as ggml does.
func rmsNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int, epsilon: Float,
    into out: UnsafeMutablePointer<Float>
) {
    var sum: Double = 0
    for i in 0..<count { sum += Double(x[i] * x[i]) }
    let scale = Float(1.0 / (sum / Double(count) + Double(epsilon)).squareRoot())
    for i in 0..<count { out[i] = x[i] * scale * weight[i] }
}

/// Rotary position embedding of one head (`dimensions` values) at `position`, in place.
///
/// θ_i = position · frequencyScale · base^(−2i/ropeDimensions) / factor_i, accumulated in Float
/// the way ggml does so positions far into the context round alike.
func applyRope(
    _ x: UnsafeMutablePointer<Float>, position: Int, ropeDimensions: Int, style: RopeStyle,
    base: Float, frequencyScale: Float, factors: UnsafePointer<Float>?
) {
    let thetaScale = powf(base, -2.0 / Float(ropeDimensions))
    var theta = Float(position)
    let half = ropeDimensions / 2
    for i in 0..<half {
        var angle = theta * frequencyScale
        if let factors { angle /= factors[i] }
        let cosine = cosf(angle)
        let sine = sinf(angle)
        let (a, b) = style == .normal ? (2 * i, 2 * i + 1) : (i, i + half)
        let x0 = x[a]
        let x1 = x[b]
        x[a] = x0 * cosine - x1 * sine
        x[b] = x0 * sine + x1 * cosine
        theta *= thetaScale
    }
}

/// silu(gate) · up, in place in `gate`.
func swiGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = gate[i]
        gate[i] = g / (1 + expf(-g)) * up[i]
    }
}

/// gelu(gate) · up with the tanh approximation, in place in `gate`.
func geGLU(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    let sqrtTwoOverPi: Float = 0.797_884_560_802_865_4
    for i in 0..<count {
        let g = gate[i]
        gate[i] = 0.5 * g * (1 + tanhf(sqrtTwoOverPi * (g + 0.044715 * g * g * g))) * up[i]
    }
}
