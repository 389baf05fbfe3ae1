// One query's flash attention over a block of cached positions, in the order of ggml's CPU flash
// attention with a binary16 cache (its default): the scaled (and soft-capped) score of each
// position, an online softmax (running maximum M and sum S, `expf` as ggml calls it) and a value
// accumulator held in binary16, rounded after every update (`ggml_vec_mad_f16`, `ggml_vec_scale_f16`).
//
// The keys and values come decoded to floats (`decodeHalfRows`, exact), so a block decoded once
// serves every query head and row that reads it; the scores are taken first and the softmax
// steps after, which changes no operation of any position. The reference twin steps position by
// position on the binary16 rows, as the per-position loop did.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Positions one call of `attendHalfBlock` takes at most.
public let halfAttentionBlock = 64

/// The state of one (row, head) between blocks: the value accumulator (binary16 values held as
/// floats), the running maximum score and the running sum of weights.
public struct HalfAttentionState {
    public var maximum: Float
    public var sum: Float
    public init(maximum: Float = -.infinity, sum: Float = 0) {
        self.maximum = maximum
        self.sum = sum
    }
}

/// Steps `state` and `accumulator` (`dimension` floats) over `count` ≤ `halfAttentionBlock`
/// positions whose decoded keys and values are packed rows of `dimension` floats; `query` is
/// already scaled and rounded to binary16.
public func attendHalfBlock(
    query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, count: Int, dimension: Int,
    scale: Float, softCap: Float?, accumulator: UnsafeMutablePointer<Float>, state: inout HalfAttentionState
) {
    precondition(count >= 0 && count <= halfAttentionBlock, "attendHalfBlock: \(count) positions, at most \(halfAttentionBlock)")
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * halfAttentionBlock) { buffer in
        let scores = buffer.baseAddress!, exponents = scores + halfAttentionBlock
        halfDots(query, decoded: keys, count: count, dimension: dimension, into: scores)
        for j in 0..<count {
            let score = scores[j] * scale
            scores[j] = softCap.map { $0 * tanhf(score) } ?? score
        }
        // Which positions raise the maximum, and each e^x's argument: M_old - s for those (the
        // rescale), s - M for the others (the weight).
        var raises: UInt64 = 0
        var maximum = state.maximum
        for j in 0..<count {
            let score = scores[j]
            if score > maximum {
                raises |= 1 &<< UInt64(j)
                exponents[j] = maximum - score
                maximum = score
            } else {
                exponents[j] = score - maximum
            }
        }
        exponentials(exponents, count: count)
        var sum = state.sum
        for j in 0..<count {
            // ggml's `S = S*ms + vs`, which GCC contracts into one fused multiply-add.
            sum = raises & (1 &<< UInt64(j)) != 0 ? Float(1).addingProduct(sum, exponents[j]) : exponents[j].addingProduct(sum, 1)
        }
        accumulateHalfValues(values, count: count, dimension: dimension, factors: exponents, raises: raises, into: accumulator)
        state.maximum = maximum
        state.sum = sum
    }
}

/// `halfDot(query, decoded: key j)` for each of `count` packed keys. With AVX-512 and 64 or 128
/// dimensions the query stays in registers across the keys (the dot's operations unchanged).
@inline(__always)
private func halfDots(_ query: UnsafePointer<Float>, decoded keys: UnsafePointer<Float>, count: Int, dimension: Int,
                      into dots: UnsafeMutablePointer<Float>) {
    #if HEARTH_AVX512_VNNI
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> __m512 { UnsafeRawPointer(p).loadUnaligned(as: __m512.self) }
    // The tail of `halfDot`: (a0 + a2) + (a1 + a3), then the lanes by halves.
    @inline(__always) func reduce(_ a0: __m512, _ a1: __m512, _ a2: __m512, _ a3: __m512) -> Float {
        let lanes = unsafeBitCast(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)), to: SIMD16<Float>.self)
        let eight = lanes.highHalf + lanes.lowHalf, four = eight.highHalf + eight.lowHalf
        return (four[0] + four[2]) + (four[1] + four[3])
    }
    let zero = _mm512_setzero_ps()
    if dimension == 128 {
        let q0 = load(query), q1 = load(query + 16), q2 = load(query + 32), q3 = load(query + 48)
        let q4 = load(query + 64), q5 = load(query + 80), q6 = load(query + 96), q7 = load(query + 112)
        for j in 0..<count {
            let k = keys + j &* 128
            var a0 = _mm512_fmadd_ps(load(k), q0, zero), a1 = _mm512_fmadd_ps(load(k + 16), q1, zero)
            var a2 = _mm512_fmadd_ps(load(k + 32), q2, zero), a3 = _mm512_fmadd_ps(load(k + 48), q3, zero)
            a0 = _mm512_fmadd_ps(load(k + 64), q4, a0); a1 = _mm512_fmadd_ps(load(k + 80), q5, a1)
            a2 = _mm512_fmadd_ps(load(k + 96), q6, a2); a3 = _mm512_fmadd_ps(load(k + 112), q7, a3)
            dots[j] = reduce(a0, a1, a2, a3)
        }
        return
    }
    if dimension == 64 {
        let q0 = load(query), q1 = load(query + 16), q2 = load(query + 32), q3 = load(query + 48)
        for j in 0..<count {
            let k = keys + j &* 64
            dots[j] = reduce(_mm512_fmadd_ps(load(k), q0, zero), _mm512_fmadd_ps(load(k + 16), q1, zero),
                             _mm512_fmadd_ps(load(k + 32), q2, zero), _mm512_fmadd_ps(load(k + 48), q3, zero))
        }
        return
    }
    #endif
    for j in 0..<count { dots[j] = halfDot(query, decoded: keys + j &* dimension, count: dimension) }
}

/// The value updates of `count` positions: at a position that raised the maximum the accumulator
/// is first scaled by its factor and rounded (`ggml_vec_scale_f16`), then the value is added with
/// weight 1; elsewhere the value is added with its factor as weight; each update is one fused
/// multiply-add rounded to binary16. Each lane's updates are a chain in position order, so the
/// lanes are walked in spans held in registers across all the positions.
@inline(__always)
private func accumulateHalfValues(_ values: UnsafePointer<Float>, count: Int, dimension: Int, factors: UnsafePointer<Float>,
                                  raises: UInt64, into accumulator: UnsafeMutablePointer<Float>) {
    var d = 0
    #if HEARTH_AVX512_VNNI
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> __m512 { UnsafeRawPointer(p).loadUnaligned(as: __m512.self) }
    @inline(__always) func put(_ v: __m512, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: __m512.self) }
    // Lane by lane through `Float16`: LLVM makes it one `vcvtps2ph` and one `vcvtph2ps` (the
    // intrinsic, with its immediate operand, is a C macro Swift does not import).
    @inline(__always) func rounded(_ v: __m512) -> __m512 {
        let lanes = unsafeBitCast(v, to: SIMD16<Float>.self)
        var result = SIMD16<Float>()
        for i in 0..<16 { result[i] = halfToFloat(floatToHalf(lanes[i])) }
        return unsafeBitCast(result, to: __m512.self)
    }
    // Eight independent chains cover the latency of the multiply-add and two conversions.
    while d &+ 128 <= dimension {
        let a = accumulator + d
        var r0 = load(a), r1 = load(a + 16), r2 = load(a + 32), r3 = load(a + 48)
        var r4 = load(a + 64), r5 = load(a + 80), r6 = load(a + 96), r7 = load(a + 112)
        for j in 0..<count {
            var weight = _mm512_set1_ps(factors[j])
            if raises & (1 &<< UInt64(j)) != 0 {
                r0 = rounded(_mm512_mul_ps(r0, weight)); r1 = rounded(_mm512_mul_ps(r1, weight))
                r2 = rounded(_mm512_mul_ps(r2, weight)); r3 = rounded(_mm512_mul_ps(r3, weight))
                r4 = rounded(_mm512_mul_ps(r4, weight)); r5 = rounded(_mm512_mul_ps(r5, weight))
                r6 = rounded(_mm512_mul_ps(r6, weight)); r7 = rounded(_mm512_mul_ps(r7, weight))
                weight = _mm512_set1_ps(1)
            }
            let v = values + (j &* dimension &+ d)
            r0 = rounded(_mm512_fmadd_ps(load(v), weight, r0)); r1 = rounded(_mm512_fmadd_ps(load(v + 16), weight, r1))
            r2 = rounded(_mm512_fmadd_ps(load(v + 32), weight, r2)); r3 = rounded(_mm512_fmadd_ps(load(v + 48), weight, r3))
            r4 = rounded(_mm512_fmadd_ps(load(v + 64), weight, r4)); r5 = rounded(_mm512_fmadd_ps(load(v + 80), weight, r5))
            r6 = rounded(_mm512_fmadd_ps(load(v + 96), weight, r6)); r7 = rounded(_mm512_fmadd_ps(load(v + 112), weight, r7))
        }
        put(r0, a); put(r1, a + 16); put(r2, a + 32); put(r3, a + 48)
        put(r4, a + 64); put(r5, a + 80); put(r6, a + 96); put(r7, a + 112)
        d &+= 128
    }
    while d &+ 64 <= dimension {
        let a = accumulator + d
        var r0 = load(a), r1 = load(a + 16), r2 = load(a + 32), r3 = load(a + 48)
        for j in 0..<count {
            var weight = _mm512_set1_ps(factors[j])
            if raises & (1 &<< UInt64(j)) != 0 {
                r0 = rounded(_mm512_mul_ps(r0, weight)); r1 = rounded(_mm512_mul_ps(r1, weight))
                r2 = rounded(_mm512_mul_ps(r2, weight)); r3 = rounded(_mm512_mul_ps(r3, weight))
                weight = _mm512_set1_ps(1)
            }
            let v = values + (j &* dimension &+ d)
            r0 = rounded(_mm512_fmadd_ps(load(v), weight, r0)); r1 = rounded(_mm512_fmadd_ps(load(v + 16), weight, r1))
            r2 = rounded(_mm512_fmadd_ps(load(v + 32), weight, r2)); r3 = rounded(_mm512_fmadd_ps(load(v + 48), weight, r3))
        }
        put(r0, a); put(r1, a + 16); put(r2, a + 32); put(r3, a + 48)
        d &+= 64
    }
    #endif
    // The rest (every lane in builds without AVX-512) position by position; LLVM vectorises the
    // lane loops.
    guard d < dimension else { return }
    let rest = dimension &- d
    for j in 0..<count {
        let a = accumulator + d, v = values + (j &* dimension &+ d)
        var weight = factors[j]
        if raises & (1 &<< UInt64(j)) != 0 {
            for i in 0..<rest { a[i] = halfToFloat(floatToHalf(a[i] * weight)) }
            weight = 1
        }
        for i in 0..<rest { a[i] = halfToFloat(floatToHalf(a[i].addingProduct(v[i], weight))) }
    }
}

/// Reference twin of `attendHalfBlock`: position by position on the binary16 keys and values
/// (`stride` values apart), with `halfDotReference` and one lane at a time.
public func attendHalfBlockReference(
    query: UnsafePointer<Float>, keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>, stride: Int, count: Int,
    dimension: Int, scale: Float, softCap: Float?, accumulator: UnsafeMutablePointer<Float>, state: inout HalfAttentionState
) {
    for j in 0..<count {
        var score = halfDotReference(query, keys + j * stride, count: dimension) * scale
        if let softCap { score = softCap * tanhf(score) }
        var rescale: Float = 1, weight: Float = 1
        if score > state.maximum {
            rescale = expf(state.maximum - score)
            state.maximum = score
            for d in 0..<dimension { accumulator[d] = halfToFloatReference(floatToHalfReference(accumulator[d] * rescale)) }
        } else {
            weight = expf(score - state.maximum)
        }
        let value = values + j * stride
        for d in 0..<dimension {
            accumulator[d] = halfToFloatReference(floatToHalfReference(accumulator[d].addingProduct(halfToFloatReference(value[d]), weight)))
        }
        state.sum = weight.addingProduct(state.sum, rescale)
    }
}
