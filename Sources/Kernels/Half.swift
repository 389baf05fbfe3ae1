// Half-precision (IEEE binary16) and bfloat16 conversions.
//
// Every block format stores its scales as binary16, so the scalar conversion sits inside the hottest
// loops. The fast path uses Swift's `Float16`, which LLVM lowers to a single `vcvtph2ps` when the
// target CPU has F16C (see the package's release flags); the reference twins decode the bits by hand
// so the fast path can be checked against an implementation that does not depend on the compiler.

/// Converts binary16 bits to a `Float` (exact: every binary16 value is representable).
///
/// ```swift
/// halfToFloat(0x3C00) // 1.0
/// ```
@inline(__always)
public func halfToFloat(_ bits: UInt16) -> Float {
    #if arch(x86_64) && (os(macOS) || os(iOS) || os(tvOS) || os(watchOS) || os(visionOS))
    return halfToFloatReference(bits)  // Float16 is unavailable on Intel Apple platforms.
    #else
    return Float(Float16(bitPattern: bits))
    #endif
}

/// Rounds a `Float` to the nearest binary16 (ties to even; overflow gives infinity, NaN stays NaN).
@inline(__always)
public func floatToHalf(_ value: Float) -> UInt16 {
    #if arch(x86_64) && (os(macOS) || os(iOS) || os(tvOS) || os(watchOS) || os(visionOS))
    return floatToHalfReference(value)
    #else
    return Float16(value).bitPattern
    #endif
}

/// Reference twin of `halfToFloat`: decodes sign, exponent and mantissa explicitly.
public func halfToFloatReference(_ bits: UInt16) -> Float {
    let negative = bits & 0x8000 != 0
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = Int(bits & 0x03FF)
    let magnitude: Float
    switch exponent {
    case 0:  // zero or subnormal: mantissa * 2^-24
        magnitude = Float(mantissa) * 0x1p-24
    case 31:
        magnitude = mantissa == 0 ? .infinity : .nan
    default:  // normal: (1024 + mantissa) * 2^(exponent - 25)
        magnitude = Float(sign: .plus, exponent: exponent - 25, significand: Float(1024 + mantissa))
    }
    return negative ? -magnitude : magnitude
}

/// Reference twin of `floatToHalf`: integer rounding to nearest, ties to even.
public func floatToHalfReference(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x007F_FFFF
    if exponent == 0xFF {  // infinity or NaN (NaN is made quiet so it cannot turn into infinity)
        return sign | (mantissa == 0 ? 0x7C00 : 0x7E00)
    }
    // Unbiased exponent; a half normal has -14 ... 15.
    let unbiased = exponent - 127
    if unbiased > 15 { return sign | 0x7C00 }
    // Full significand with the implicit bit (zero and float subnormals are far below half range).
    let significand: UInt32 = exponent == 0 ? mantissa : (mantissa | 0x0080_0000)
    // Number of low significand bits dropped: 13 for normals, more for half subnormals.
    let dropped = unbiased >= -14 ? 13 : 13 + (-14 - unbiased)
    if dropped > 24 { return sign }  // below half of the smallest subnormal: rounds to zero
    var kept = significand >> UInt32(dropped)
    let remainder = significand & ((1 << UInt32(dropped)) - 1)
    let half = UInt32(1) << UInt32(dropped - 1)
    if remainder > half || (remainder == half && kept & 1 == 1) { kept += 1 }
    if unbiased >= -14 {
        // Normal: kept includes the implicit bit (1024...2048); a carry into 2048 bumps the exponent,
        // which adding the biased exponent field handles, including overflow to infinity.
        let field = UInt32(unbiased + 14) << 10  // (unbiased + 15 - 1): the implicit bit adds the 1
        return sign | UInt16(field + kept)
    }
    return sign | UInt16(kept)  // subnormal (a carry into 1024 correctly yields the smallest normal)
}

/// Converts bfloat16 bits to a `Float` (exact).
@inline(__always)
public func bfloat16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Rounds a `Float` to bfloat16 (ties to even; NaN becomes a quiet NaN), as ggml and gguf-py do.
@inline(__always)
public func floatToBFloat16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if bits & 0x7FFF_FFFF > 0x7F80_0000 {
        return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040)
    }
    let rounded = UInt64(bits) + UInt64(0x7FFF + ((bits >> 16) & 1))
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// Converts `count` binary16 values to `Float` (vectorises to `vcvtph2ps` with F16C).
public func convertHalfToFloat(
    _ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int
) {
    for i in 0..<count { destination[i] = halfToFloat(source[i]) }
}

/// Converts `count` floats to binary16, rounding to nearest even.
public func convertFloatToHalf(
    _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int
) {
    for i in 0..<count { destination[i] = floatToHalf(source[i]) }
}

/// Reference twin of `convertHalfToFloat`.
public func convertHalfToFloatReference(
    _ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int
) {
    for i in 0..<count { destination[i] = halfToFloatReference(source[i]) }
}

/// Reference twin of `convertFloatToHalf`.
public func convertFloatToHalfReference(
    _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int
) {
    for i in 0..<count { destination[i] = floatToHalfReference(source[i]) }
}

/// Converts `count` bfloat16 values to `Float`.
public func convertBFloat16ToFloat(
    _ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int
) {
    for i in 0..<count { destination[i] = bfloat16ToFloat(source[i]) }
}

/// Converts `count` floats to bfloat16, rounding to nearest even.
public func convertFloatToBFloat16(
    _ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int
) {
    for i in 0..<count { destination[i] = floatToBFloat16(source[i]) }
}
