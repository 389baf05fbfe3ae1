// The unquantised formats: F32, F16 and BF16. They are dotted with F32 activations (no activation
// quantisation), so F32 is also the activation format of all three.

/// Sums `product(i)` for i in 0..<count with 32 independent float accumulators held in a small
/// stack buffer: a fixed-length inner loop the compiler turns into vector multiply-adds, which a
/// single accumulator (a serial chain that may not be reassociated) would prevent.
@inline(__always)
func wideSum(_ count: Int, _ product: (Int) -> Float) -> Float {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { lanes in
        lanes.initialize(repeating: 0)
        var base = 0
        while base &+ 32 <= count {
            for lane in 0..<32 { lanes[lane] += product(base &+ lane) }
            base &+= 32
        }
        // The lanes folded in halves (16 + 16, 8 + 8, …, as a vector reduction runs), not added
        // one after another: for rows a few hundred wide (an encoder's), a chain of 32 dependent
        // adds per dot outweighed the vector products themselves.
        var width = 16
        while width >= 1 {
            for lane in 0..<width { lanes[lane] += lanes[lane &+ width] }
            width >>= 1
        }
        var total = lanes[0]
        while base < count {
            total += product(base)
            base &+= 1
        }
        return total
    }
}

/// 32-bit IEEE floats (ggml type 0); also the activation format of the float weight formats.
public enum F32: QuantFormat, ActivationFormat {
    public typealias Activation = F32
    public static var name: String { "F32" }
    public static var ggmlType: UInt32 { 0 }
    public static var blockSize: Int { 1 }
    public static var bytesPerBlock: Int { 4 }
    public static var rowAlignment: Int { 4 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for i in 0..<count { output[i] = row.loadUnaligned(fromByteOffset: i &* 4, as: Float.self) }
    }

    public static func quantize(row: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer) {
        output.copyMemory(from: row, byteCount: count &* 4)
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        let w = weights.assumingMemoryBound(to: Float.self)
        let x = activations.assumingMemoryBound(to: Float.self)
        return wideSum(count) { w[$0] * x[$0] }
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var sum: Float = 0
        for i in 0..<count {
            sum += weights.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
                * activations.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        }
        return sum
    }
}

/// IEEE binary16 (ggml type 1), dotted with F32 activations.
public enum F16: QuantFormat {
    public typealias Activation = F32
    public static var name: String { "F16" }
    public static var ggmlType: UInt32 { 1 }
    public static var blockSize: Int { 1 }
    public static var bytesPerBlock: Int { 2 }
    public static var rowAlignment: Int { 2 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        convertHalfToFloat(row.assumingMemoryBound(to: UInt16.self), into: output, count: count)
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        let w = weights.assumingMemoryBound(to: UInt16.self)
        let x = activations.assumingMemoryBound(to: Float.self)
        return wideSum(count) { halfToFloat(w[$0]) * x[$0] }
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var sum: Float = 0
        for i in 0..<count {
            let bits = weights.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
            sum += halfToFloatReference(bits) * activations.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        }
        return sum
    }
}

/// bfloat16 (ggml type 30), dotted with F32 activations.
public enum BF16: QuantFormat {
    public typealias Activation = F32
    public static var name: String { "BF16" }
    public static var ggmlType: UInt32 { 30 }
    public static var blockSize: Int { 1 }
    public static var bytesPerBlock: Int { 2 }
    public static var rowAlignment: Int { 2 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        convertBFloat16ToFloat(row.assumingMemoryBound(to: UInt16.self), into: output, count: count)
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        let w = weights.assumingMemoryBound(to: UInt16.self)
        let x = activations.assumingMemoryBound(to: Float.self)
        return wideSum(count) { bfloat16ToFloat(w[$0]) * x[$0] }
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var sum: Float = 0
        for i in 0..<count {
            let bits = UInt32(weights.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            sum += Float(bitPattern: bits << 16) * activations.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        }
        return sum
    }
}
