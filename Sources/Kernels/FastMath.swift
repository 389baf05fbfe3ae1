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

/// SiLU (swish): x * sigmoid(x).
@inline(__always)
public func silu(_ x: Float) -> Float {
    x / (1 + fastExp(-x))
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

/// Reference twin of `silu`.
public func siluReference(_ x: Float) -> Float {
    let v = Double(x)
    return Float(v / (1 + exp(-v)))
}

/// Reference twin of `geluTanh` (libm tanh, in Double).
public func geluTanhReference(_ x: Float) -> Float {
    let v = Double(x)
    return Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
}
