// Quantisation of activations to the 8-bit formats, once per row before the integer dot products.
// The rules are those of llama.cpp's CPU backend, which quantises activations with its SIMD
// quantisers, not the reference ones: Q8_0 and Q8_1 multiply by 127 / amax on x86 (1 / d on ARM)
// and round half to even (quantize_row_q8_0 / _q8_1); Q8_K follows quantize_row_q8_K_ref (x86
// calls it). Activations that round as the reference's keep the models' outputs in step with
// llama.cpp's. Non-finite input gives a NaN scale, so a NaN in the activations shows up as NaN in
// the outputs instead of being silently clipped.

/// Rounds `value` half to even (the SIMD quantisers' rounding) and clamps to [-127, 127]; NaN
/// becomes 0.
@inline(__always)
func roundToInt8(_ value: Float) -> Int8 {
    let r = value.rounded(.toNearestOrEven)
    return r.isNaN ? 0 : Int8(Swift.max(-127, Swift.min(127, r)))
}

/// Largest magnitude among `count` values, or NaN if any value is not finite.
@inline(__always)
func absoluteMax(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var amax: Float = 0
    var finite = true
    for j in 0..<count {
        let v = x[j]
        finite = finite && v.isFinite
        amax = Swift.max(amax, abs(v))
    }
    return finite ? amax : .nan
}

/// Quantises one 32-value block the ggml way: d = amax / 127, q = round(x * (127 / amax)) on x86
/// (x * (1 / d) elsewhere, as ggml's NEON quantiser). Returns (d, sum q).
@inline(__always)
func quantize32(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>) -> (scale: Float, sum: Int32) {
    let amax = absoluteMax(x, 32)
    let d = amax / 127
    #if arch(x86_64)
    let inverse: Float = d != 0 && d.isFinite ? 127 / amax : 0
    #else
    let inverse: Float = d != 0 && d.isFinite ? 1 / d : 0
    #endif
    var sum: Int32 = 0
    for j in 0..<32 {
        let v = roundToInt8(x[j] * inverse)
        q[j] = v
        sum &+= Int32(v)
    }
    return (d, sum)
}

extension Q8_0 {
    public static func quantize(row: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer) {
        for block in 0..<count / 32 {
            let b = output + block &* 34
            let (d, _) = quantize32(row + block &* 32, into: (b + 2).assumingMemoryBound(to: Int8.self))
            b.storeBytes(of: floatToHalf(d).littleEndian, as: UInt16.self)
        }
    }
}

extension Q8_1 {
    public static func quantize(row: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer) {
        for block in 0..<count / 32 {
            let b = output + block &* 36
            let (d, sum) = quantize32(row + block &* 32, into: (b + 4).assumingMemoryBound(to: Int8.self))
            b.storeBytes(of: floatToHalf(d).littleEndian, as: UInt16.self)
            b.storeBytes(of: floatToHalf(Float(sum) * d).littleEndian, toByteOffset: 2, as: UInt16.self)
        }
    }
}

extension Q8_K {
    /// ggml's Q8_K rule: scale by -127 / (the value of largest magnitude), round to nearest even,
    /// keep d = 1 / that factor as a Float, and store the 16-value partial sums the K-quant dot
    /// products use to apply their per-sub-block minimums and offsets.
    public static func quantize(row: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer) {
        for block in 0..<count / 256 {
            let x = row + block &* 256
            let b = output + block &* 292
            let q = (b + quantsOffset).assumingMemoryBound(to: Int8.self)
            var amax: Float = 0, signedMax: Float = 0
            var finite = true
            for j in 0..<256 {
                finite = finite && x[j].isFinite
                if abs(x[j]) > amax {
                    amax = abs(x[j])
                    signedMax = x[j]
                }
            }
            var d: Float = 0
            if !finite {
                d = .nan
                q.update(repeating: 0, count: 256)
            } else if amax == 0 {
                q.update(repeating: 0, count: 256)
            } else {
                let inverse = -127 / signedMax
                for j in 0..<256 {
                    let r = (inverse * x[j]).rounded(.toNearestOrEven)
                    q[j] = Int8(Swift.max(-128, Swift.min(127, r)))
                }
                d = 1 / inverse
            }
            b.storeBytes(of: d, as: Float.self)
            for group in 0..<16 {
                var sum: Int16 = 0
                for j in 0..<16 { sum &+= Int16(q[group &* 16 &+ j]) }
                b.storeBytes(of: sum.littleEndian, toByteOffset: sumsOffset &+ group &* 2, as: Int16.self)
            }
        }
    }
}
