// Elementwise vector operations (residual adds, scaling, attention's weighted sums). Plain loops
// that vectorise as written; the dot product is the only reduction and has a twin (F32.dot /
// F32.dotReference).

/// output[i] = a[i] + b[i]. `output` may alias an input.
public func add(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
    require(a.count == b.count && b.count == output.count, "add: sizes \(a.count), \(b.count), \(output.count) differ")
    guard let x = a.baseAddress, let y = b.baseAddress, let z = output.baseAddress else { return }
    for i in 0..<output.count { z[i] = x[i] + y[i] }
}

/// output[i] = a[i] * b[i]. `output` may alias an input.
public func multiply(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
    require(a.count == b.count && b.count == output.count, "multiply: sizes \(a.count), \(b.count), \(output.count) differ")
    guard let x = a.baseAddress, let y = b.baseAddress, let z = output.baseAddress else { return }
    for i in 0..<output.count { z[i] = x[i] * y[i] }
}

/// x[i] *= factor.
public func scale(_ x: UnsafeMutableBufferPointer<Float>, by factor: Float) {
    guard let p = x.baseAddress else { return }
    for i in 0..<x.count { p[i] *= factor }
}

/// y[i] += factor * x[i] (axpy: accumulating value rows weighted by attention scores).
public func addScaled(_ x: UnsafeBufferPointer<Float>, by factor: Float, to y: UnsafeMutableBufferPointer<Float>) {
    require(x.count == y.count, "addScaled: sizes \(x.count), \(y.count) differ")
    guard let source = x.baseAddress, let target = y.baseAddress else { return }
    for i in 0..<y.count { target[i] += factor * source[i] }
}

/// Dot product of two float vectors (vectorised with 32 partial sums; twin: `F32.dotReference`).
public func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
    require(a.count == b.count, "dot: sizes \(a.count), \(b.count) differ")
    guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
    return F32.dot(UnsafeRawPointer(x), UnsafeRawPointer(y), count: a.count)
}
