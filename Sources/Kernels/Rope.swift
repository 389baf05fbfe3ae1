// Rotary position embedding (RoPE), as ggml_rope_ext without YaRN's ramp: dimension pair i of a head
// is rotated by the angle position * freqScale * base^(-2i/dimensions) / factor[i].
//
// The angles are computed the way ggml computes them (theta_i = position * s^i accumulated by
// repeated Float multiplication, s = base^(-2/dimensions), then cosf/sinf), so that positions far
// into the context round exactly as in llama.cpp, whose logits the models are tested against.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding for one model: which dimensions rotate, how fast, in which order.
///
/// ```swift
/// let rope = try RotaryEmbedding(dimensions: 64, base: 10_000, style: .neox)
/// rope.apply(to: q, headCount: 9, headDimension: 64, position: 17)
/// ```
public struct RotaryEmbedding: Sendable {
    /// How the rotated dimensions pair up.
    public enum Style: Sendable {
        /// Adjacent pairs (x[2i], x[2i+1]): ggml's normal mode (llama).
        case normal
        /// Pairs half a rotation apart (x[i], x[i + dimensions/2]): NeoX mode (qwen2, gemma).
        case neox
    }

    /// Rotated dimensions at the start of each head (`rope.dimension_count`); the rest pass through.
    public let dimensions: Int
    public let style: Style
    public let base: Float
    public let scale: Float
    /// Per-pair divisors of the frequency (`rope_freqs.weight`), or empty.
    public let frequencyFactors: [Float]
    /// Multiplies every cosine and sine (ggml's `attn_factor`, e.g. phi3's LongRoPE
    /// `rope.scaling.attn_factor`): the rotated dimensions come out scaled by it. 1 for none.
    public let magnitude: Float
    /// base^(-2 / dimensions): the ratio between the angles of consecutive pairs.
    let thetaScale: Float

    /// - Parameters:
    ///   - dimensions: rotated dimensions per head, even and positive.
    ///   - base: frequency base (`rope.freq_base`), positive.
    ///   - scale: frequency scale (1 / the linear `rope.scaling.factor`), positive.
    ///   - frequencyFactors: nil, or `dimensions / 2` positive divisors.
    ///   - magnitude: multiplies the cosines and sines, positive (1: a pure rotation).
    public init(
        dimensions: Int, base: Float, scale: Float = 1, style: Style, frequencyFactors: [Float]? = nil,
        magnitude: Float = 1
    ) throws(KernelError) {
        guard dimensions > 0, dimensions % 2 == 0 else {
            throw .invalidParameter("rope: dimension count \(dimensions) must be positive and even")
        }
        guard base > 0, base.isFinite else { throw .invalidParameter("rope: frequency base \(base) must be positive") }
        guard scale > 0, scale.isFinite else { throw .invalidParameter("rope: frequency scale \(scale) must be positive") }
        let factors = frequencyFactors ?? []
        guard factors.isEmpty || factors.count == dimensions / 2 else {
            throw .invalidParameter("rope: \(factors.count) frequency factors, expected \(dimensions / 2)")
        }
        guard factors.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .invalidParameter("rope: frequency factors must be positive and finite")
        }
        guard magnitude > 0, magnitude.isFinite else {
            throw .invalidParameter("rope: magnitude \(magnitude) must be positive and finite")
        }
        self.dimensions = dimensions
        self.magnitude = magnitude
        self.style = style
        self.base = base
        self.scale = scale
        self.frequencyFactors = factors
        self.thetaScale = powf(base, -2 / Float(dimensions))
    }

    /// Rotates, in place, `headCount` consecutive heads of `headDimension` values in `x` for the
    /// token at `position`. The angles are computed once and applied to every head.
    public func apply(to x: UnsafeMutableBufferPointer<Float>, headCount: Int, headDimension: Int, position: Int) {
        checkShape(x, headCount, headDimension)
        guard let base = x.baseAddress, headCount > 0 else { return }
        let pairs = dimensions / 2
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * pairs) { table in
            let cosines = table.baseAddress!, sines = cosines + pairs
            var theta = Float(position)
            for pair in 0..<pairs {
                let angle = angleOfPair(pair, theta)
                // ggml's `cosf(theta) * mscale`: times 1 is exact, so no factor costs nothing.
                cosines[pair] = cosf(angle) * magnitude
                sines[pair] = sinf(angle) * magnitude
                theta *= thetaScale
            }
            for head in 0..<headCount {
                let h = base + head * headDimension
                switch style {
                case .normal:
                    for pair in 0..<pairs {
                        let x0 = h[2 &* pair], x1 = h[2 &* pair &+ 1]
                        h[2 &* pair] = rotatedFirst(x0, x1, cosines[pair], sines[pair])
                        h[2 &* pair &+ 1] = rotatedSecond(x0, x1, cosines[pair], sines[pair])
                    }
                case .neox:
                    let second = h + pairs
                    for pair in 0..<pairs {
                        let x0 = h[pair], x1 = second[pair]
                        h[pair] = rotatedFirst(x0, x1, cosines[pair], sines[pair])
                        second[pair] = rotatedSecond(x0, x1, cosines[pair], sines[pair])
                    }
                }
            }
        }
    }

    /// x0 cos - x1 sin with x0 cos fused, as llama.cpp's CPU backend computes it (GCC contracts
    /// ggml's `x0*cos_theta - x1*sin_theta` into one fused multiply-subtract).
    @inline(__always)
    private func rotatedFirst(_ x0: Float, _ x1: Float, _ cosine: Float, _ sine: Float) -> Float {
        (-(x1 * sine)).addingProduct(x0, cosine)
    }

    /// x0 sin + x1 cos with x0 sin fused (see `rotatedFirst`).
    @inline(__always)
    private func rotatedSecond(_ x0: Float, _ x1: Float, _ cosine: Float, _ sine: Float) -> Float {
        (x1 * cosine).addingProduct(x0, sine)
    }

    /// The angle of `pair` given theta = position * thetaScale^pair (ggml's order of operations:
    /// divide by the frequency factor, then multiply by the frequency scale).
    @inline(__always)
    private func angleOfPair(_ pair: Int, _ theta: Float) -> Float {
        scale * (frequencyFactors.isEmpty ? theta : theta / frequencyFactors[pair])
    }

    /// Reference twin of `apply`: no angle table; each pair of each head recomputes its angle with
    /// the same Float recurrence and rotates. Bit-identical to `apply` by construction of the
    /// arithmetic; tests compare both with the angle computed in Double from the definition.
    public func applyReference(to x: UnsafeMutableBufferPointer<Float>, headCount: Int, headDimension: Int, position: Int) {
        checkShape(x, headCount, headDimension)
        for head in 0..<headCount {
            var theta = Float(position)
            for pair in 0..<dimensions / 2 {
                let angle = angleOfPair(pair, theta)
                theta *= thetaScale
                let (i0, i1) = style == .normal
                    ? (head * headDimension + 2 * pair, head * headDimension + 2 * pair + 1)
                    : (head * headDimension + pair, head * headDimension + pair + dimensions / 2)
                let x0 = x[i0], x1 = x[i1]
                let cosine = cosf(angle) * magnitude, sine = sinf(angle) * magnitude
                x[i0] = fmaf(x0, cosine, -(x1 * sine))
                x[i1] = fmaf(x0, sine, x1 * cosine)
            }
        }
    }

    private func checkShape(_ x: UnsafeMutableBufferPointer<Float>, _ headCount: Int, _ headDimension: Int) {
        require(headDimension >= dimensions, "rope: head dimension \(headDimension) < rotated dimensions \(dimensions)")
        require(headCount >= 0 && x.count == headCount * headDimension,
                "rope: \(x.count) floats for \(headCount) heads of \(headDimension)")
    }
}
