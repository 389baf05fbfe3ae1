/// The orthonormal Walsh–Hadamard transform of `count` floats (a power of two) in place: each
/// value scaled by 1/√count, then log2(count) passes of butterflies (u + v, u − v) with spans 1,
/// 2, 4, … — ggml's `fwht` in its order. Every butterfly is one exact IEEE addition or
/// subtraction, so the plain loop (which LLVM vectorises) gives ggml's SIMD results bit for bit.
/// Applying it twice gives the input back (up to rounding): H·H = I.
///
/// A quantised KV cache stores keys and values rotated by it (llama.cpp's attention rotation):
/// it spreads a head's outliers over all its dimensions, so each 32-value block quantises with
/// less error; queries get the same rotation, which leaves every query·key product unchanged.
public func walshHadamardTransform(_ x: UnsafeMutablePointer<Float>, count: Int) {
    precondition(count > 0 && count & (count - 1) == 0, "the Walsh–Hadamard transform needs a power-of-two length, got \(count)")
    let scale = 1 / Float(count).squareRoot()
    for i in 0..<count { x[i] *= scale }
    var span = 1
    while span < count {
        var start = 0
        while start < count {
            for j in start..<(start + span) {
                let u = x[j], v = x[j + span]
                x[j] = u + v
                x[j + span] = u - v
            }
            start += 2 * span
        }
        span *= 2
    }
}

/// Reference twin of ``walshHadamardTransform(_:count:)``: the orthonormal Hadamard matrix
/// (Sylvester's construction, entries ±1/√n) times the vector, summed in Double.
public func walshHadamardTransformReference(_ x: [Float]) -> [Float] {
    let n = x.count
    return (0..<n).map { row in
        var sum: Double = 0
        for column in 0..<n {
            // H[row][column] = (-1)^popcount(row & column) / √n.
            let sign: Double = (row & column).nonzeroBitCount % 2 == 0 ? 1 : -1
            sum += sign * Double(x[column])
        }
        return Float(sum / Double(n).squareRoot())
    }
}
