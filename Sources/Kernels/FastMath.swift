// Branch-free float functions that vectorise (libm's expf is a scalar call per element), shared
// by softmax and the gated activations.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// e^x with relative error below 3e-7 (about 2 ulp) for all finite x; e^x overflows to +inf
/// above 88.72, flushes to 0 below -87.33 (where e^x is under the smallest normal float), and
/// NaN stays NaN. Cody-Waite range reduction x = n ln 2 + r, |r| <= ln 2 / 2, and a degree-6
/// polynomial for e^r (Cephes' expf coefficients).
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let clamped = x.isNaN ? 0 : Swift.min(Swift.max(x, -87.33654), 88.72283)
    let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
    let r = (clamped - n * 0.693_359_375) - n * -2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let expR = p * r * r + r + 1
    // 2^n through the exponent field; n is in -126...128 after clamping. For n == 128 (only
    // reachable at the top of the range) scale in two steps to avoid building an infinity.
    let half = Int32(n) >> 1
    let scaleA = Float(bitPattern: UInt32(bitPattern: (half &+ 127) << 23))
    let scaleB = Float(bitPattern: UInt32(bitPattern: (Int32(n) &- half &+ 127) << 23))
    let result = expR * scaleA * scaleB
    return x > 88.72283 ? .infinity : (x < -87.33654 ? 0 : (x.isNaN ? x : result))
}

/// SiLU (swish): x * sigmoid(x), as llama.cpp's CPU backend computes it on x86 (`ggml_v_silu`:
/// x / (1 + e^(0 - x)) with `ggmlExp`), so that feed-forward activations round as the reference's.
@inline(__always)
public func silu(_ x: Float) -> Float {
    x / (1 + ggmlExp(0 - x))
}

/// e^x in the operations of ggml's vectorised `ggml_v_expf` (AVX-512 and AVX2 forms agree):
/// n = round(x / ln 2) by the 1.5 * 2^23 trick, b = x - n ln 2 in two fused steps, a degree-5
/// polynomial in b evaluated with fused multiply-adds, then j * 2^n. Every step is one IEEE
/// operation, so the result is bit for bit ggml's (about 1.5 ulp from e^x); |n| > 192 gives 0
/// or +inf as ggml's does.
@inline(__always)
public func ggmlExp(_ x: Float) -> Float {
    let shifter: Float = 0x1.8p23
    let z = shifter.addingProduct(x, 0x1.715476p+0)
    let n = z - shifter
    let b = x.addingProduct(-n, 0x1.62e4p-1).addingProduct(-n, 0x1.7f7d1cp-20)
    let u = b * b
    let high = Float(0x1.573e2ep-5).addingProduct(0x1.0e4020p-7, b)
    let middle = Float(0x1.fffdb6p-2).addingProduct(0x1.555e66p-3, b)
    let low = Float(1).addingProduct(0x1.ffffecp-1, b)
    let j = low.addingProduct(middle.addingProduct(high, u), u)
    if abs(n) > 192 { return n <= 0 ? 0 : .infinity }
    // j * 2^n with one rounding (`vscalefps`): 2^n in two exact factors, so that only the last
    // product can leave the normal range (and round once, to a subnormal or to infinity).
    let e = Int32(n)
    let first = e < -126 ? Int32(-100) : (e > 127 ? Int32(100) : e)
    let second = e &- first
    let factorA = Float(bitPattern: UInt32(bitPattern: (first &+ 127) << 23))
    let factorB = Float(bitPattern: UInt32(bitPattern: (Swift.max(-126, Swift.min(127, second)) &+ 127) << 23))
    return second == 0 ? j * factorA : j * factorA * factorB
}

/// GELU, tanh approximation (as ggml's gelu and PyTorch's approximate="tanh"):
/// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3). Evaluated as x / (1 + e^(-2u)),
/// the same function, because 1 + tanh(u) cancels catastrophically for negative u.
@inline(__always)
public func geluTanh(_ x: Float) -> Float {
    let u = 0.797_884_56 * (x + 0.044_715 * x * x * x)
    return x / (1 + fastExp(-2 * u))
}

/// Reference twin of `fastExp` (libm, in Double).
public func expReference(_ x: Float) -> Float { Float(exp(Double(x))) }

/// Reference twin of `silu` (libm, in Double).
public func siluReference(_ x: Float) -> Float {
    let v = Double(x)
    return Float(v / (1 + exp(-v)))
}

/// Reference twin of `ggmlExp`: the same operations through libm's `fmaf` and `scalbnf`, one
/// scalar step at a time.
public func ggmlExpReference(_ x: Float) -> Float {
    let shifter: Float = 0x1.8p23
    let n = fmaf(x, 0x1.715476p+0, shifter) - shifter
    let b = fmaf(-n, 0x1.7f7d1cp-20, fmaf(-n, 0x1.62e4p-1, x))
    let u = b * b
    let j = fmaf(fmaf(fmaf(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, fmaf(0x1.555e66p-3, b, 0x1.fffdb6p-2)), u,
                 fmaf(0x1.ffffecp-1, b, 1))
    if fabsf(n) > 192 { return n <= 0 ? 0 : .infinity }
    return scalbnf(j, Int32(n))
}

/// Reference twin of `geluTanh` (libm tanh, in Double).
public func geluTanhReference(_ x: Float) -> Float {
    let v = Double(x)
    return Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
}
