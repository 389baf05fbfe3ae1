// Attention's binary16 vector operations, in the order of ggml's CPU flash attention on AVX-512
// (`ggml_vec_dot_f16`): the query · key dot product, over keys decoded once per block
// (`decodeHalfRows`). Its scalar twin does the same float operations one lane at a time on the
// binary16 keys, so the two agree bit for bit (tested) and builds without AVX-512 compute the
// same numbers. The value accumulation is in HalfAttention.swift.

#if HEARTH_AVX512_VNNI
import _Builtin_intrinsics.intel
#endif

/// q · k over `count` binary16 keys, one lane at a time: four 16-lane accumulators take one
/// fused multiply-add per 64 values, then (a0 + a2) + (a1 + a3) and the 16 lanes summed by halves
/// (8 + 8, 4 + 4, 2 + 2, 1 + 1); values past the last multiple of 64 are added in double
/// precision, as ggml does. The twin of `halfDot(_:decoded:count:)`.
public func halfDotReference(_ q: UnsafePointer<Float>, _ k: UnsafePointer<UInt16>, count: Int) -> Float {
    var lanes = [Float](repeating: 0, count: 64)
    var i = 0
    while i + 64 <= count {
        for lane in 0..<64 { lanes[lane] = lanes[lane].addingProduct(halfToFloat(k[i + lane]), q[i + lane]) }
        i += 64
    }
    // (a0 + a2) + (a1 + a3), lane by lane, then halves.
    var sixteen = [Float](repeating: 0, count: 16)
    for lane in 0..<16 { sixteen[lane] = (lanes[lane] + lanes[32 + lane]) + (lanes[16 + lane] + lanes[48 + lane]) }
    var eight = [Float](repeating: 0, count: 8)
    for lane in 0..<8 { eight[lane] = sixteen[8 + lane] + sixteen[lane] }
    var four = [Float](repeating: 0, count: 4)
    for lane in 0..<4 { four[lane] = eight[4 + lane] + eight[lane] }
    var total = Double((four[0] + four[2]) + (four[1] + four[3]))
    while i < count {
        total += Double(halfToFloat(k[i]) * q[i])
        i += 1
    }
    return Float(total)
}

/// Decodes `count` rows of `dimension` binary16 values, `stride` values apart, into packed floats
/// (exact): a block of cached keys or values decoded once for every query that reads it.
public func decodeHalfRows(_ rows: UnsafePointer<UInt16>, stride: Int, count: Int, dimension: Int,
                           into output: UnsafeMutablePointer<Float>) {
    for row in 0..<count {
        let source = rows + row &* stride, destination = output + row &* dimension
        for d in 0..<dimension { destination[d] = halfToFloat(source[d]) }
    }
}

/// `halfDot` with the keys already decoded to floats (`decodeHalfRows`): decoding is exact, so
/// the same operations in the same order give the same result as `halfDot` on the binary16 keys.
@inline(__always)
public func halfDot(_ q: UnsafePointer<Float>, decoded k: UnsafePointer<Float>, count: Int) -> Float {
    #if HEARTH_AVX512_VNNI
    var a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0
    var i = 0
    @inline(__always)
    func product(_ offset: Int, _ acc: __m512) -> __m512 {
        _mm512_fmadd_ps(UnsafeRawPointer(k + offset).loadUnaligned(as: __m512.self),
                        UnsafeRawPointer(q + offset).loadUnaligned(as: __m512.self), acc)
    }
    while i &+ 64 <= count {
        a0 = product(i, a0); a1 = product(i &+ 16, a1); a2 = product(i &+ 32, a2); a3 = product(i &+ 48, a3)
        i &+= 64
    }
    let lanes = unsafeBitCast(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)), to: SIMD16<Float>.self)
    let eight = lanes.highHalf + lanes.lowHalf, four = eight.highHalf + eight.lowHalf
    var total = Double((four[0] + four[2]) + (four[1] + four[3]))
    while i < count {
        total += Double(k[i] * q[i])
        i &+= 1
    }
    return Float(total)
    #else
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { buffer in
        let lanes = buffer.baseAddress!
        lanes.initialize(repeating: 0, count: 64)
        var i = 0
        while i &+ 64 <= count {
            for lane in 0..<64 { lanes[lane] = lanes[lane].addingProduct(k[i &+ lane], q[i &+ lane]) }
            i &+= 64
        }
        for lane in 0..<16 { lanes[lane] = (lanes[lane] + lanes[32 &+ lane]) + (lanes[16 &+ lane] + lanes[48 &+ lane]) }
        for lane in 0..<8 { lanes[lane] = lanes[8 &+ lane] + lanes[lane] }
        for lane in 0..<4 { lanes[lane] = lanes[4 &+ lane] + lanes[lane] }
        var total = Double((lanes[0] + lanes[2]) + (lanes[1] + lanes[3]))
        while i < count {
            total += Double(k[i] * q[i])
            i &+= 1
        }
        return Float(total)
    }
    #endif
}
