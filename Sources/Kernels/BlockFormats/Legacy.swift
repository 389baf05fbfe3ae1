// The original 32-value formats: Q4_0, Q4_1, Q5_0, Q5_1. In every one of them byte j of `qs`
// holds element j in its low nibble and element j + 16 in its high nibble; the Q5 formats keep
// the fifth bits in a 32-bit word `qh` (bit j belongs to element j).
//
// Fast dots: integer products of a whole block (vectorised), one float multiply per block, four
// blocks in flight (`sumBlocks`). Reference twins: decode each element to its integer quant, then
// the same per-block formula in plain loops.

/// Q4_0 (ggml type 2): `d: f16, qs: [UInt8; 16]`; value = d * (nibble - 8). 18 bytes.
public enum Q4_0: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_0
    public static var name: String { "Q4_0" }
    public static var ggmlType: UInt32 { 2 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 18 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 18
            let d = b.half(at: 0)
            let qs = b.bytes(at: 2)
            let y = output + block &* 32
            for j in 0..<16 {
                y[j] = Float(Int32(qs[j] & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(qs[j] >> 4) - 8) * d
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        vnniDot32(Self.self, weights, activations, count: count)
        #else
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
        #endif
    }

    public static func dotTwoRows(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> (Float, Float) {
        sumBlocksTwoRowsUnlessVNNI(Self.self, first, second, activations, count: count)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 18, a = activations + block &* 34
        let qs = w.bytes(at: 2), aq = a.signedBytes(at: 2)
        var sum: Int32 = 0
        for j in 0..<16 {
            let low = Int32(qs[j] & 0x0F) &- 8, high = Int32(qs[j] >> 4) &- 8
            sum &+= low &* Int32(aq[j]) &+ high &* Int32(aq[j &+ 16])
        }
        return Float(sum) * (w.half(at: 0) * a.half(at: 0))
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 18, a = activations + block * 34
            var sum: Int32 = 0
            for i in 0..<32 {
                let byte = w.load(fromByteOffset: 2 + i % 16, as: UInt8.self)
                let nibble = i < 16 ? byte & 0x0F : byte >> 4
                sum += (Int32(nibble) - 8) * Int32(a.load(fromByteOffset: 2 + i, as: Int8.self))
            }
            total += Float(sum) * referenceHalf(w, 0) * referenceHalf(a, 0)
        }
        return total
    }
}

/// Q4_1 (ggml type 3): `d: f16, m: f16, qs: [UInt8; 16]`; value = d * nibble + m. 20 bytes.
public enum Q4_1: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_1
    public static var name: String { "Q4_1" }
    public static var ggmlType: UInt32 { 3 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 20 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 20
            let d = b.half(at: 0), m = b.half(at: 2)
            let qs = b.bytes(at: 4)
            let y = output + block &* 32
            for j in 0..<16 {
                y[j] = Float(qs[j] & 0x0F) * d + m
                y[j + 16] = Float(qs[j] >> 4) * d + m
            }
        }
    }

    /// sum (d_w q_w + m_w) d_a q_a = d_w d_a sum(q_w q_a) + m_w (d_a sum q_a), and Q8_1 stores the
    /// last factor as `s`.
    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        vnniDot32(Self.self, weights, activations, count: count)
        #elseif HEARTH_AVX2
        avx2SumBlocks(Self.self, weights, activations, blocks: count / 32)
        #else
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
        #endif
    }

    public static func dotTwoRows(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> (Float, Float) {
        sumBlocksTwoRowsUnlessVNNIOrAVX2(Self.self, first, second, activations, count: count)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 20, a = activations + block &* 36
        return roundBlock(sum: blockSum(w, a), w, a)
    }

    /// A block's product from its exact sum: d_w d_a · sum + m_w s_a.
    @inline(__always)
    static func roundBlock(sum: Int32, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        Float(sum) * (w.half(at: 0) * a.half(at: 0)) + w.half(at: 2) * a.half(at: 2)
    }

    /// Σ nibble_j · a_j over the block at `weights` and the Q8_1 block at `activations`: the
    /// exact integer sum every Q4_1 kernel rounds once. AVX2 builds compute it with `vpmaddubsw`
    /// (`avx2NibbleSum`), others with `blockSumReference`'s plain loop.
    @inline(__always)
    public static func blockSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2NibbleSum(weights + 4, activations + 4)
        #else
        blockSumReference(weights, activations)
        #endif
    }

    /// The plain-loop twin of ``blockSum(_:_:)``.
    @inline(__always)
    public static func blockSumReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        let qs = weights.bytes(at: 4), aq = activations.signedBytes(at: 4)
        var sum: Int32 = 0
        for j in 0..<16 {
            sum &+= Int32(qs[j] & 0x0F) &* Int32(aq[j]) &+ Int32(qs[j] >> 4) &* Int32(aq[j &+ 16])
        }
        return sum
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 20, a = activations + block * 36
            var sum: Int32 = 0
            for i in 0..<32 {
                let byte = w.load(fromByteOffset: 4 + i % 16, as: UInt8.self)
                let nibble = i < 16 ? byte & 0x0F : byte >> 4
                sum += Int32(nibble) * Int32(a.load(fromByteOffset: 4 + i, as: Int8.self))
            }
            total += Float(sum) * referenceHalf(w, 0) * referenceHalf(a, 0) + referenceHalf(w, 2) * referenceHalf(a, 2)
        }
        return total
    }
}

/// Q5_0 (ggml type 6): `d: f16, qh: UInt32, qs: [UInt8; 16]`; value = d * (5-bit quant - 16).
/// 22 bytes.
public enum Q5_0: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_0
    public static var name: String { "Q5_0" }
    public static var ggmlType: UInt32 { 6 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 22 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 22
            let d = b.half(at: 0)
            let qh = b.uint32(at: 2)
            let qs = b.bytes(at: 6)
            let y = output + block &* 32
            for j in 0..<16 {
                let low = Int32(qs[j] & 0x0F) | Int32((qh >> UInt32(j)) & 1) << 4
                let high = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float(low - 16) * d
                y[j + 16] = Float(high - 16) * d
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        vnniDot32(Self.self, weights, activations, count: count)
        #elseif HEARTH_AVX2
        avx2SumBlocks(Self.self, weights, activations, blocks: count / 32)
        #else
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
        #endif
    }

    public static func dotTwoRows(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> (Float, Float) {
        sumBlocksTwoRowsUnlessVNNIOrAVX2(Self.self, first, second, activations, count: count)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 22, a = activations + block &* 34
        return roundBlock(sum: blockSum(w, a), w, a)
    }

    /// A block's product from its exact sum: d_w d_a · sum.
    @inline(__always)
    static func roundBlock(sum: Int32, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        Float(sum) * (w.half(at: 0) * a.half(at: 0))
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 22, a = activations + block * 34
            var sum: Int32 = 0
            for i in 0..<32 {
                let quant = referenceFiveBitQuant(w, qhOffset: 2, qsOffset: 6, element: i)
                sum += (quant - 16) * Int32(a.load(fromByteOffset: 2 + i, as: Int8.self))
            }
            total += Float(sum) * referenceHalf(w, 0) * referenceHalf(a, 0)
        }
        return total
    }
}

/// Q5_1 (ggml type 7): `d: f16, m: f16, qh: UInt32, qs: [UInt8; 16]`; value = d * quant + m.
/// 24 bytes.
public enum Q5_1: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_1
    public static var name: String { "Q5_1" }
    public static var ggmlType: UInt32 { 7 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 24 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 24
            let d = b.half(at: 0), m = b.half(at: 2)
            let qh = b.uint32(at: 4)
            let qs = b.bytes(at: 8)
            let y = output + block &* 32
            for j in 0..<16 {
                let low = Int32(qs[j] & 0x0F) | Int32((qh >> UInt32(j)) & 1) << 4
                let high = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = Float(low) * d + m
                y[j + 16] = Float(high) * d + m
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        #if HEARTH_AVX512_VNNI
        vnniDot32(Self.self, weights, activations, count: count)
        #else
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
        #endif
    }

    public static func dotTwoRows(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> (Float, Float) {
        sumBlocksTwoRowsUnlessVNNI(Self.self, first, second, activations, count: count)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 24, a = activations + block &* 36
        let qh = w.uint32(at: 4)
        let qs = w.bytes(at: 8), aq = a.signedBytes(at: 4)
        var sum: Int32 = 0
        for j in 0..<16 {
            let low = Int32(qs[j] & 0x0F) | Int32(truncatingIfNeeded: (qh >> UInt32(j)) & 1) << 4
            let high = Int32(qs[j] >> 4) | Int32(truncatingIfNeeded: (qh >> UInt32(j &+ 16)) & 1) << 4
            sum &+= low &* Int32(aq[j]) &+ high &* Int32(aq[j &+ 16])
        }
        return Float(sum) * (w.half(at: 0) * a.half(at: 0)) + w.half(at: 2) * a.half(at: 2)
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 24, a = activations + block * 36
            var sum: Int32 = 0
            for i in 0..<32 {
                let quant = referenceFiveBitQuant(w, qhOffset: 4, qsOffset: 8, element: i)
                sum += quant * Int32(a.load(fromByteOffset: 4 + i, as: Int8.self))
            }
            total += Float(sum) * referenceHalf(w, 0) * referenceHalf(a, 0) + referenceHalf(w, 2) * referenceHalf(a, 2)
        }
        return total
    }
}

// MARK: - Reference helpers

/// The binary16 at `offset`, decoded by the reference converter.
func referenceHalf(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
    halfToFloatReference(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

/// Unsigned 5-bit quant of `element` (0..<32) in a Q5 block: nibble plus bit `element` of qh.
func referenceFiveBitQuant(_ block: UnsafeRawPointer, qhOffset: Int, qsOffset: Int, element: Int) -> Int32 {
    let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self))
    let byte = block.load(fromByteOffset: qsOffset + element % 16, as: UInt8.self)
    let nibble = element < 16 ? byte & 0x0F : byte >> 4
    return Int32(nibble) + Int32((qh >> UInt32(element)) & 1) * 16
}

extension Q5_0 {
    /// Σ (quant_j − 16) · a_j over the block at `weights` and the Q8_0 block at `activations`:
    /// the exact integer sum that every Q5_0 kernel rounds once. AVX2 builds compute it with
    /// byte shuffles (`avx2FiveBitBlockSum`), others with `blockSumReference`'s plain loop.
    @inline(__always)
    public static func blockSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2FiveBitBlockSum(qh: weights.uint32(at: 2), qs: weights + 6, activations: activations + 2)
        #else
        blockSumReference(weights, activations)
        #endif
    }

    /// The plain-loop twin of ``blockSum(_:_:)``.
    @inline(__always)
    public static func blockSumReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        fiveBitBlockSum(qh: weights.uint32(at: 2), qs: weights.bytes(at: 6), activations: activations.signedBytes(at: 2))
    }
}

/// Each quant is built in 16 bits (nibble − 16 where its fifth bit is clear, the nibble where it is
/// set) from the two 16-bit halves of `qh`, then multiplied by its activation: LLVM keeps the
/// lanes 16 bits wide and forms widening multiply-adds, where 32-bit quants (a shift of `qh` per
/// lane) took a 32-bit multiply per value and about a fifth longer.
@inline(__always)
func fiveBitBlockSum(qh: UInt32, qs: UnsafePointer<UInt8>, activations aq: UnsafePointer<Int8>) -> Int32 {
    let lowBits = UInt16(truncatingIfNeeded: qh), highBits = UInt16(truncatingIfNeeded: qh >> 16)
    var sum: Int32 = 0
    for j in 0..<16 {
        let lowBit = Int16(bitPattern: (lowBits >> UInt16(j)) & 1), highBit = Int16(bitPattern: (highBits >> UInt16(j)) & 1)
        let low = Int16(qs[j] & 0x0F) &+ (lowBit &- 1) &* 16
        let high = Int16(qs[j] >> 4) &+ (highBit &- 1) &* 16
        sum &+= Int32(low) &* Int32(aq[j])
        sum &+= Int32(high) &* Int32(aq[j &+ 16])
    }
    return sum
}
