import Foundation
import Kernels
import Testing

/// Norms, RoPE, softmax, gated activations and elementwise operations against their twins.
@Suite struct OpsTests {
    /// |a - b| <= relative * |b| + absolute, elementwise.
    static func close(_ a: [Float], _ b: [Float], relative: Float, absolute: Float = 0) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= relative * abs($1) + absolute }
    }

    @Test func fastExpIsAccurate() {
        var worst: Float = 0
        var x: Float = -87.3
        while x < 88.7 {
            let fast = fastExp(x), reference = expReference(x)
            worst = max(worst, abs(fast - reference) / reference)
            x += 0.0137
        }
        #expect(worst <= 3e-7, "worst relative error \(worst)")
        #expect(fastExp(0) == 1)
        #expect(fastExp(-200) == 0)
        #expect(fastExp(100) == .infinity)
        #expect(fastExp(-.infinity) == 0)
        #expect(fastExp(.nan).isNaN)
        #expect(fastExp(88.72).isFinite)
    }

    /// `ggmlExp` is ggml's `ggml_v_expf` operation for operation (its libm twin agrees bit for
    /// bit, subnormal results included) and within 2 ulp of e^x.
    @Test func ggmlExpMatchesItsTwinAndExp() {
        var worst: Float = 0
        var x: Float = -110
        while x < 95 {
            let fast = ggmlExp(x), twin = ggmlExpReference(x)
            #expect(fast.bitPattern == twin.bitPattern, "x \(x): \(fast) vs \(twin)")
            let exact = expReference(x)
            if exact.isNormal && exact < .greatestFiniteMagnitude { worst = max(worst, abs(fast - exact) / exact) }
            x += 0.00731
        }
        #expect(worst <= 2.5e-7, "worst relative error \(worst)")
        #expect(ggmlExp(0) == 1)
        #expect(ggmlExp(-300) == 0 && ggmlExp(300) == .infinity)
        #expect(ggmlExp(.nan).isNaN)
        // SiLU through it: x / (1 + e^-x).
        #expect(silu(0) == 0 && abs(silu(1) - 0.7310586) < 1e-6 && silu(-200) == 0 && silu(200) == 200)
    }

    @Test func rmsNormMatchesReference() {
        for count in [1, 7, 64, 576, 1537] {
            let x = randomFloats(count, seed: UInt64(count))
            let weight = randomFloats(count, seed: 99)
            var fast = [Float](repeating: 0, count: count), reference = fast, unweighted = fast
            x.withUnsafeBufferPointer { input in
                weight.withUnsafeBufferPointer { w in
                    fast.withUnsafeMutableBufferPointer { rmsNorm(input, weight: w, epsilon: 1e-6, into: $0) }
                    reference.withUnsafeMutableBufferPointer { rmsNormReference(input, weight: w, epsilon: 1e-6, into: $0) }
                }
                unweighted.withUnsafeMutableBufferPointer { rmsNorm(input, weight: nil, epsilon: 1e-6, into: $0) }
            }
            #expect(Self.close(fast, reference, relative: 1e-6), "count \(count)")
            let meanSquare = unweighted.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(count)
            #expect(abs(meanSquare - 1) < 1e-4)
        }
        // In place.
        var x = randomFloats(100, seed: 1)
        var expected = x
        x.withUnsafeBufferPointer { input in expected.withUnsafeMutableBufferPointer { rmsNormReference(input, weight: nil, epsilon: 1e-5, into: $0) } }
        x.withUnsafeMutableBufferPointer { rmsNorm(UnsafeBufferPointer($0), weight: nil, epsilon: 1e-5, into: $0) }
        #expect(Self.close(x, expected, relative: 2e-6))
    }

    @Test func softmaxMatchesReference() {
        for count in [1, 5, 33, 1000] {
            var fast = randomFloats(count, seed: UInt64(count)).map { $0 * 3 }
            var reference = fast
            fast.withUnsafeMutableBufferPointer { softmax($0) }
            reference.withUnsafeMutableBufferPointer { softmaxReference($0) }
            #expect(Self.close(fast, reference, relative: 2e-6, absolute: 1e-12), "count \(count)")
            #expect(abs(fast.reduce(0, +) - 1) < 1e-5)
        }
        var masked: [Float] = [0, -.infinity, 1, -.infinity]
        masked.withUnsafeMutableBufferPointer { softmax($0) }
        #expect(masked[1] == 0 && masked[3] == 0 && abs(masked[0] + masked[2] - 1) < 1e-6)
        var allMasked: [Float] = [-.infinity, -.infinity]
        allMasked.withUnsafeMutableBufferPointer { softmax($0) }
        #expect(allMasked == [0, 0])
    }

    @Test func gatedActivationsMatchReference() {
        let gate = randomFloats(999, seed: 3) + [0, -30, 30, -100, 100]
        let up = randomFloats(gate.count, seed: 4)
        for (name, fastFn, referenceFn) in [
            ("swiglu", swiglu(gate:up:into:), swigluReference(gate:up:into:)),
            ("geglu", geglu(gate:up:into:), gegluReference(gate:up:into:)),
        ] {
            var fast = [Float](repeating: 0, count: gate.count), reference = fast
            gate.withUnsafeBufferPointer { g in
                up.withUnsafeBufferPointer { u in
                    fast.withUnsafeMutableBufferPointer { fastFn(g, u, $0) }
                    reference.withUnsafeMutableBufferPointer { referenceFn(g, u, $0) }
                }
            }
            #expect(Self.close(fast, reference, relative: 1e-5, absolute: 1e-6), "\(name)")
        }
        #expect(silu(0) == 0)
        #expect(abs(silu(1) - 0.7310586) < 1e-6)
        #expect(abs(geluTanh(1) - 0.8411920) < 1e-6)
        #expect(geluTanh(-20) == 0 || abs(geluTanh(-20)) < 1e-30)
    }

    /// RoPE from the definition, in Double: pair i turns by position * scale * base^(-2i/dims) / factor_i.
    static func ropeDefinition(
        _ x: [Float], heads: Int, headDim: Int, dims: Int, base: Float, scale: Float, factors: [Float]?,
        style: RotaryEmbedding.Style, position: Int
    ) -> [Float] {
        var y = x
        for head in 0..<heads {
            for pair in 0..<dims / 2 {
                var theta = Double(position) * Double(scale) * pow(Double(base), -2 * Double(pair) / Double(dims))
                if let factors { theta /= Double(factors[pair]) }
                let (i0, i1) = style == .normal
                    ? (head * headDim + 2 * pair, head * headDim + 2 * pair + 1)
                    : (head * headDim + pair, head * headDim + pair + dims / 2)
                let x0 = Double(x[i0]), x1 = Double(x[i1])
                y[i0] = Float(x0 * cos(theta) - x1 * sin(theta))
                y[i1] = Float(x0 * sin(theta) + x1 * cos(theta))
            }
        }
        return y
    }

    @Test(arguments: [RotaryEmbedding.Style.normal, .neox])
    func ropeMatchesReferenceAndDefinition(style: RotaryEmbedding.Style) throws {
        let configurations: [(dims: Int, headDim: Int, base: Float, scale: Float, factors: [Float]?)] = [
            (64, 64, 10_000, 1, nil), (32, 64, 1_000_000, 0.125, nil),
            (8, 8, 10_000, 1, [1, 1.5, 4, 8]),
        ]
        for config in configurations {
            let rope = try RotaryEmbedding(dimensions: config.dims, base: config.base, scale: config.scale,
                                           style: style, frequencyFactors: config.factors)
            for position in [0, 1, 17, 4095] {
                let heads = 3
                var fast = randomFloats(heads * config.headDim, seed: UInt64(position))
                var reference = fast
                let original = fast
                fast.withUnsafeMutableBufferPointer { rope.apply(to: $0, headCount: heads, headDimension: config.headDim, position: position) }
                reference.withUnsafeMutableBufferPointer { rope.applyReference(to: $0, headCount: heads, headDimension: config.headDim, position: position) }
                // Same Float recurrence (ggml's), with and without the angle table.
                #expect(fast == reference, "\(style) \(config) position \(position)")
                // Against the exact angles: the recurrence's rounding grows with the angle (a
                // Float angle near 4095 rad has a 2.4e-4 rad step), so the bound scales with
                // position; a wrong pairing or frequency would be off by O(|x|).
                let exact = Self.ropeDefinition(original, heads: heads, headDim: config.headDim, dims: config.dims,
                                                base: config.base, scale: config.scale, factors: config.factors,
                                                style: style, position: position)
                let magnitude = original.map { abs($0) }.max()!
                let bound = magnitude * (1e-6 + 1e-6 * Float(position))
                #expect(zip(fast, exact).allSatisfy { abs($0 - $1) <= bound }, "\(style) \(config) position \(position)")
                if position == 0 { #expect(fast == original) }
                // Dimensions past the rotated ones pass through.
                for head in 0..<heads {
                    for d in config.dims..<config.headDim {
                        #expect(fast[head * config.headDim + d] == original[head * config.headDim + d])
                    }
                }
            }
        }
    }

    /// The pairing convention itself, on a hand-checkable case: a 90 degree turn of pair 0.
    @Test func ropePairing() throws {
        // dims 4: pair 0 has frequency 1; at position pi/2 (not an integer) we use position 1 and
        // a base making pair 0's angle 1 radian, then compare with cos(1), sin(1).
        let normal = try RotaryEmbedding(dimensions: 4, base: 10_000, style: .normal)
        var v: [Float] = [1, 0, 0, 0]
        v.withUnsafeMutableBufferPointer { normal.apply(to: $0, headCount: 1, headDimension: 4, position: 1) }
        #expect(abs(v[0] - Float(cos(1.0))) < 1e-6 && abs(v[1] - Float(sin(1.0))) < 1e-6 && v[2] == 0)
        let neox = try RotaryEmbedding(dimensions: 4, base: 10_000, style: .neox)
        var w: [Float] = [1, 0, 0, 0]
        w.withUnsafeMutableBufferPointer { neox.apply(to: $0, headCount: 1, headDimension: 4, position: 1) }
        #expect(abs(w[0] - Float(cos(1.0))) < 1e-6 && abs(w[2] - Float(sin(1.0))) < 1e-6 && w[1] == 0)
    }

    /// A magnitude (ggml's attn_factor) scales the rotated dimensions by it and leaves the rest;
    /// the fast path and its twin still agree bit for bit.
    @Test(arguments: [RotaryEmbedding.Style.normal, .neox])
    func ropeMagnitudeScalesTheRotatedDimensions(style: RotaryEmbedding.Style) throws {
        let plain = try RotaryEmbedding(dimensions: 24, base: 10_000, style: style, frequencyFactors: (0..<12).map { 1 + Float($0) })
        let scaled = try RotaryEmbedding(dimensions: 24, base: 10_000, style: style, frequencyFactors: plain.frequencyFactors,
                                         magnitude: 1.25)
        let original = randomFloats(2 * 32, seed: 9)
        var rotated = original, magnified = original, twin = original
        rotated.withUnsafeMutableBufferPointer { plain.apply(to: $0, headCount: 2, headDimension: 32, position: 13) }
        magnified.withUnsafeMutableBufferPointer { scaled.apply(to: $0, headCount: 2, headDimension: 32, position: 13) }
        twin.withUnsafeMutableBufferPointer { scaled.applyReference(to: $0, headCount: 2, headDimension: 32, position: 13) }
        #expect(magnified == twin)
        for head in 0..<2 {
            for d in 0..<32 {
                let i = head * 32 + d
                if d < 24 {
                    #expect(abs(magnified[i] - 1.25 * rotated[i]) <= 1e-5 * max(1, abs(rotated[i])))
                } else {
                    #expect(magnified[i] == original[i])
                }
            }
        }
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 8, base: 10_000, style: style, magnitude: 0) }
    }

    /// YaRN: pairs below the ramp keep the unscaled angle, pairs above it the interpolated one,
    /// pairs on it mix the two, and every rotation grows by 1 + 0.1 ln(1/scale); the fast path and
    /// its twin agree bit for bit, and both agree with the definition computed in Double.
    @Test(arguments: [RotaryEmbedding.Style.normal, .neox])
    func ropeYaRNMixesExtrapolationAndInterpolation(style: RotaryEmbedding.Style) throws {
        let yarn = RotaryEmbedding.YaRN(dimensions: 64, originalContext: 64, base: 10_000)
        #expect(yarn.lowPair == 0 && yarn.highPair == 9)  // ggml_rope_yarn_corr_dims for this shape
        let scale: Float = 0.25
        let magnitude = RotaryEmbedding.YaRN.attentionFactor(scale: scale)
        #expect(abs(magnitude - 1) < 1e-6)
        let rope = try RotaryEmbedding(dimensions: 64, base: 10_000, scale: scale, style: style, magnitude: magnitude, yarn: yarn)
        let original = randomFloats(2 * 64, seed: 5)
        for position in [0, 3, 47, 300] {
            var fast = original, twin = original
            fast.withUnsafeMutableBufferPointer { rope.apply(to: $0, headCount: 2, headDimension: 64, position: position) }
            twin.withUnsafeMutableBufferPointer { rope.applyReference(to: $0, headCount: 2, headDimension: 64, position: position) }
            #expect(fast == twin)
            let growth = Double(magnitude) * (1 + 0.1 * Foundation.log(4.0))
            for head in 0..<2 {
                for pair in 0..<32 {
                    let unscaled = Double(position) * Foundation.pow(10_000, -2 * Double(pair) / 64)
                    let ramp = 1 - min(1, max(0, (Double(pair) - 0) / 9))
                    let angle = unscaled * 0.25 * (1 - ramp) + unscaled * ramp
                    let (i0, i1) = style == .normal ? (head * 64 + 2 * pair, head * 64 + 2 * pair + 1)
                                                    : (head * 64 + pair, head * 64 + pair + 32)
                    let x0 = Double(original[i0]), x1 = Double(original[i1])
                    let expected0 = growth * (x0 * Foundation.cos(angle) - x1 * Foundation.sin(angle))
                    let expected1 = growth * (x0 * Foundation.sin(angle) + x1 * Foundation.cos(angle))
                    let bound = 1e-5 * (1 + Double(position) / 10)
                    #expect(abs(Double(fast[i0]) - expected0) <= bound && abs(Double(fast[i1]) - expected1) <= bound,
                            "\(style) position \(position) pair \(pair)")
                }
            }
        }
    }

    @Test func ropeRejectsBadParameters() {
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 7, base: 10_000, style: .normal) }
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 8, base: 0, style: .normal) }
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 8, base: 10_000, scale: -1, style: .normal) }
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 8, base: 10_000, style: .neox, frequencyFactors: [1, 2]) }
        #expect(throws: KernelError.self) { try RotaryEmbedding(dimensions: 4, base: 10_000, style: .neox, frequencyFactors: [1, 0]) }
    }

    @Test func elementwiseOperations() {
        let a = randomFloats(131, seed: 1), b = randomFloats(131, seed: 2)
        var sum = [Float](repeating: 0, count: 131), product = sum
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                sum.withUnsafeMutableBufferPointer { add(x, y, into: $0) }
                product.withUnsafeMutableBufferPointer { multiply(x, y, into: $0) }
                let d = dot(x, y)
                let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let magnitude = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(d) - exact) <= 1e-6 * magnitude)
            }
        }
        #expect(sum == zip(a, b).map { $0 + $1 })
        #expect(product == zip(a, b).map { $0 * $1 })
        var scaled = a
        scaled.withUnsafeMutableBufferPointer { scale($0, by: 0.5) }
        #expect(scaled == a.map { $0 * 0.5 })
        var accumulated = b
        a.withUnsafeBufferPointer { x in accumulated.withUnsafeMutableBufferPointer { addScaled(x, by: 2, to: $0) } }
        #expect(accumulated == zip(a, b).map { $1 + 2 * $0 })
    }
}

@Suite struct GeluHalfTableTests {
    /// The table is llama.cpp's, entry for entry: FNV-1a over the little-endian binary16 results
    /// for every finite input below 10 in magnitude (the ones ever looked up), against the same
    /// hash of `ggml_table_gelu_f16` dumped from llama.cpp's CPU library
    /// (scripts/reference/dump-gelu-table.c).
    @Test func tableIsLlamaCppsTable() {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var entries = 0
        for bits in 0...UInt16.max {
            let x = halfToFloat(bits)
            guard x.isFinite, abs(x) < 10 else { continue }
            entries += 1
            let result = GeluHalfTable.entry(bits)
            for byte in [UInt8(result & 0xFF), UInt8(result >> 8)] {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        #expect(entries == 37376)
        #expect(hash == 0xc6e6_387b_bbd2_64fa, "hash \(String(hash, radix: 16))")
    }

    @Test func tableMatchesItsTwin() {
        var gate: [Float] = (0..<4096).map { Float($0 - 2048) / 150 }  // −13.6 … 13.6, both saturations
        gate += [-10, 10, -9.999, 9.999, 0, -0.0]
        let up: [Float] = gate.indices.map { Float($0 % 7) - 3 }
        var fast = [Float](repeating: 0, count: gate.count)
        var reference = fast
        gate.withUnsafeBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                fast.withUnsafeMutableBufferPointer { GeluHalfTable.geglu(gate: g, up: u, into: $0) }
                reference.withUnsafeMutableBufferPointer { GeluHalfTable.gegluReference(gate: g, up: u, into: $0) }
            }
        }
        for i in gate.indices {
            // Float and Double tanh may land on either side of a binary16 rounding boundary: one ulp.
            let tolerance = max(abs(reference[i]) * 1e-3, 1e-6)
            #expect(abs(fast[i] - reference[i]) <= tolerance, "x = \(gate[i])")
        }
    }
}

/// The in-place Walsh–Hadamard transform (the quantised KV cache's rotation) against the matrix.
@Suite struct WalshHadamardTests {
    @Test(arguments: [1, 2, 64, 128, 256])
    func matchesTheMatrixAndIsItsOwnInverse(count: Int) {
        var generator = SystemRandomNumberGenerator()
        let input = (0..<count).map { _ in Float.random(in: -4...4, using: &generator) }
        var fast = input
        fast.withUnsafeMutableBufferPointer { walshHadamardTransform($0.baseAddress!, count: count) }
        let reference = walshHadamardTransformReference(input)
        for i in 0..<count { #expect(abs(fast[i] - reference[i]) <= 1e-5 * max(1, abs(reference[i]))) }
        fast.withUnsafeMutableBufferPointer { walshHadamardTransform($0.baseAddress!, count: count) }
        for i in 0..<count { #expect(abs(fast[i] - input[i]) <= 1e-5 * max(1, abs(input[i]))) }
    }

    @Test func scalesFirstAsGgml() {
        // One value: 1/√1 = 1; two values: (a + b)/√2 computed as a/√2 + b/√2.
        var pair: [Float] = [3, 1]
        pair.withUnsafeMutableBufferPointer { walshHadamardTransform($0.baseAddress!, count: 2) }
        let scale = 1 / Float(2).squareRoot()
        #expect(pair == [3 * scale + 1 * scale, 3 * scale - 1 * scale])
    }
}
