// Rotary position embedding (RoPE), as ggml_rope_ext: dimension pair i of a head is rotated by the
// angle position * freqScale * base^(-2i/dimensions) / factor[i] — with YaRN, the angle mixes that
// interpolated angle with the unscaled one along a ramp over the pairs, and the rotation is scaled.
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
    /// YaRN's ramp between interpolated and unscaled angles (`rope.scaling.type` yarn), or nil.
    public let yarn: YaRN?
    /// base^(-2 / dimensions): the ratio between the angles of consecutive pairs.
    let thetaScale: Float

    /// YaRN ("Yet another RoPE extensioN"), as ggml's `rope_yarn`: pairs below `lowPair` keep
    /// their unscaled angle, pairs above `highPair` the interpolated one (times the frequency
    /// scale), pairs between mix the two linearly (weighted by `extrapolation`), and every
    /// cosine and sine is multiplied by 1 + 0.1 ln(1 / scale) on top of the magnitude.
    public struct YaRN: Sendable, Equatable {
        public let lowPair: Float
        public let highPair: Float
        /// ggml's `ext_factor`: 1 for YaRN as llama.cpp runs it.
        public let extrapolation: Float

        public init(lowPair: Float, highPair: Float, extrapolation: Float = 1) {
            precondition(lowPair.isFinite && highPair.isFinite && extrapolation.isFinite, "rope: YaRN parameters must be finite")
            self.lowPair = lowPair
            self.highPair = highPair
            self.extrapolation = extrapolation
        }

        /// ggml_rope_yarn_corr_dims: the pairs whose wavelengths fit `betaFast` and `betaSlow`
        /// rotations into the original context, rounded outwards and clamped to the dimensions.
        public init(dimensions: Int, originalContext: Int, base: Float, betaFast: Float = 32, betaSlow: Float = 1) {
            func correctionDimension(_ rotations: Float) -> Float {
                Float(dimensions) * logf(Float(originalContext) / (rotations * 2 * Float.pi)) / (2 * logf(base))
            }
            self.init(lowPair: max(0, floorf(correctionDimension(betaFast))),
                      highPair: min(Float(dimensions - 1), ceilf(correctionDimension(betaSlow))))
        }

        /// The magnitude llama.cpp gives YaRN's rotation before ggml's own factor (llama-context.cpp:
        /// `get_mscale(factor, 1) / (1 + 0.1 ln factor)`, with `factor = 1 / scale`): 1 up to
        /// rounding, which ggml's 1 + 0.1 ln(1/scale) then multiplies back.
        public static func attentionFactor(scale: Float) -> Float {
            let factor = 1 / scale
            let mscale: Float = factor <= 1 ? 1 : Float(1).addingProduct(0.1, logf(factor))
            return mscale * (1 / Float(1).addingProduct(0.1, logf(factor)))
        }

        /// ggml's `rope_yarn_ramp`: 1 below the low pair, 0 above the high one.
        func ramp(_ pair: Int) -> Float {
            let y = (Float(pair) - lowPair) / max(0.001, highPair - lowPair)
            return 1 - min(1, max(0, y))
        }
    }

    /// - Parameters:
    ///   - dimensions: rotated dimensions per head, even and positive.
    ///   - base: frequency base (`rope.freq_base`), positive.
    ///   - scale: frequency scale (1 / the linear `rope.scaling.factor`), positive.
    ///   - frequencyFactors: nil, or `dimensions / 2` positive divisors.
    ///   - magnitude: multiplies the cosines and sines, positive (1: a pure rotation).
    public init(
        dimensions: Int, base: Float, scale: Float = 1, style: Style, frequencyFactors: [Float]? = nil,
        magnitude: Float = 1, yarn: YaRN? = nil
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
        self.yarn = yarn
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
            let scaledMagnitude = rotationMagnitude
            for pair in 0..<pairs {
                let angle = angleOfPair(pair, theta)
                // ggml's `cosf(theta) * mscale`: times 1 is exact, so no factor costs nothing.
                cosines[pair] = cosf(angle) * scaledMagnitude
                sines[pair] = sinf(angle) * scaledMagnitude
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
        let unscaled = frequencyFactors.isEmpty ? theta : theta / frequencyFactors[pair]
        let interpolated = scale * unscaled
        guard let yarn, yarn.extrapolation != 0 else { return interpolated }
        let mix = yarn.ramp(pair) * yarn.extrapolation
        // ggml's `theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix`, the first product fused
        // as GCC contracts it (see `rotatedFirst`).
        return (unscaled * mix).addingProduct(interpolated, 1 - mix)
    }

    /// What multiplies every cosine and sine: the magnitude, and with YaRN its 1 + 0.1 ln(1/scale)
    /// (ggml multiplies the two in this order for each pair).
    var rotationMagnitude: Float {
        guard let yarn, yarn.extrapolation != 0 else { return magnitude }
        // GCC contracts ggml's `1.0f + 0.1f * logf(1.0f / freq_scale)` into one fused multiply-add.
        return magnitude * Float(1).addingProduct(0.1, logf(1 / scale))
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
                let cosine = cosf(angle) * rotationMagnitude, sine = sinf(angle) * rotationMagnitude
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
