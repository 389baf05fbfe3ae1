// Passes over a whole row of logits (one per vocabulary entry, 150k for qwen2) for the sampler:
// the largest finite value, the softmax denominator, and the indices above a moving threshold.
// Each runs in fixed groups of lanes that LLVM turns into vector instructions; the scalar twins
// below are what they are tested against.

/// How many logits one group of lanes covers: the width of the `SIMD16` values below.
private let scanLanes = 16

/// The largest finite element of `x` (NaN and ±infinity skipped), or -infinity if none is finite.
public func largestFinite(_ x: UnsafeBufferPointer<Float>) -> Float {
    guard let base = x.baseAddress else { return -.infinity }
    let count = x.count
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: scanLanes) { lanes in
        lanes.initialize(repeating: -.infinity)
        var start = 0
        while start &+ scanLanes <= count {
            for lane in 0..<scanLanes {
                let value = base[start &+ lane]
                // |v| < ∞ is false for NaN and both infinities: a compare and a blend per lane.
                lanes[lane] = value.magnitude < .infinity && value > lanes[lane] ? value : lanes[lane]
            }
            start &+= scanLanes
        }
        var result = -Float.infinity
        for lane in 0..<scanLanes where lanes[lane] > result { result = lanes[lane] }
        while start < count {
            let value = base[start]
            if value.magnitude < .infinity, value > result { result = value }
            start &+= 1
        }
        return result
    }
}

/// Scalar twin of ``largestFinite(_:)``.
public func largestFiniteReference(_ x: UnsafeBufferPointer<Float>) -> Float {
    x.filter(\.isFinite).max() ?? -.infinity
}

/// The softmax denominator Σ e^((x − offset) / divisor) over the finite elements of `x` (NaN
/// and ±infinity count as 0), with ``fastExp(_:)`` (of (x − offset) · (1 / divisor)) and sums in
/// 8 partial sums.
/// `offset` is the largest finite element, so no term exceeds 1.
public func sumOfExponentials(_ x: UnsafeBufferPointer<Float>, subtracting offset: Float, dividingBy divisor: Float) -> Float {
    guard let base = x.baseAddress else { return 0 }
    let count = x.count
    let scale = 1 / divisor
    // The exponentials of a chunk go to a buffer first: a loop with no running sum, which LLVM
    // vectorises, then whole vectors are added up.
    let chunk = 1024
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: chunk) { buffer in
        let terms = buffer.baseAddress!
        var sums = SIMD8<Float>()
        var total: Float = 0
        var start = 0
        while start < count {
            let length = Swift.min(chunk, count &- start)
            let source = base + start
            for i in 0..<length {
                let value = source[i]
                let term = fastExp((value - offset) * scale)
                terms[i] = value.magnitude < .infinity ? term : 0
            }
            var group = 0
            while group &+ 8 <= length {
                sums += UnsafeRawPointer(terms + group).loadUnaligned(as: SIMD8<Float>.self)
                group &+= 8
            }
            while group < length {
                total += terms[group]
                group &+= 1
            }
            start &+= length
        }
        return sums.sum() + total
    }
}

/// Scalar twin of ``sumOfExponentials(_:subtracting:dividingBy:)`` (libm, in Double).
public func sumOfExponentialsReference(_ x: UnsafeBufferPointer<Float>, subtracting offset: Float, dividingBy divisor: Float) -> Float {
    var total: Double = 0
    for value in x where value.isFinite { total += Double(expReference((value - offset) / divisor)) }
    return Float(total)
}

/// Calls `visit(index, value)` for each element of `x` greater than a threshold, in index order.
/// `visit` returns the threshold for the rest of the scan (a bounded heap raises it as it fills),
/// so groups of lanes that hold nothing above it are passed over with one comparison each. NaN
/// is never visited; +infinity is, when the threshold is finite.
public func visitElements(
    of x: UnsafeBufferPointer<Float>, above threshold: Float, _ visit: (Int, Float) -> Float
) {
    guard let base = x.baseAddress else { return }
    let count = x.count
    var threshold = threshold
    var start = 0
    while start &+ scanLanes <= count {
        var values = SIMD16<Float>()
        for lane in 0..<scanLanes { values[lane] = base[start &+ lane] }
        if any(values .> threshold) {
            for index in start..<(start &+ scanLanes) where base[index] > threshold {
                threshold = visit(index, base[index])
            }
        }
        start &+= scanLanes
    }
    while start < count {
        if base[start] > threshold { threshold = visit(start, base[start]) }
        start &+= 1
    }
}

/// Scalar twin of ``visitElements(of:above:_:)``.
public func visitElementsReference(
    of x: UnsafeBufferPointer<Float>, above threshold: Float, _ visit: (Int, Float) -> Float
) {
    var threshold = threshold
    for index in x.indices where x[index] > threshold { threshold = visit(index, x[index]) }
}

/// The index of the largest element (NaN skipped; +infinity counts), the lowest index among
/// ties, as llama.cpp's greedy sampler picks; 0 when nothing is greater than -infinity.
public func indexOfLargest(_ x: UnsafeBufferPointer<Float>) -> Int {
    guard let base = x.baseAddress else { return 0 }
    let count = x.count
    let largest = withUnsafeTemporaryAllocation(of: Float.self, capacity: scanLanes) { lanes in
        lanes.initialize(repeating: -.infinity)
        var start = 0
        while start &+ scanLanes <= count {
            for lane in 0..<scanLanes {
                let value = base[start &+ lane]
                lanes[lane] = value > lanes[lane] ? value : lanes[lane]
            }
            start &+= scanLanes
        }
        var result = -Float.infinity
        for lane in 0..<scanLanes where lanes[lane] > result { result = lanes[lane] }
        while start < count {
            if base[start] > result { result = base[start] }
            start &+= 1
        }
        return result
    }
    guard largest > -.infinity else { return 0 }
    var found = 0
    // The first group holding the maximum stops the scan (the threshold becomes +infinity).
    visitElements(of: x, above: largest.nextDown) { index, _ in
        found = index
        return .infinity
    }
    return found
}

/// Scalar twin of ``indexOfLargest(_:)``.
public func indexOfLargestReference(_ x: UnsafeBufferPointer<Float>) -> Int {
    var best = 0
    var bestValue = -Float.infinity
    for index in x.indices where x[index] > bestValue {
        bestValue = x[index]
        best = index
    }
    return best
}
