// The 8-bit formats. Q8_0 is both a weight format and the activation format of Q4_0, Q5_0 and
// Q8_0; Q8_1 (adds d * sum of the quants) is the activation format of Q4_1 and Q5_1, whose
// per-block minimum needs that sum; Q8_K (256-value blocks with 16-value partial sums) is the
// activation format of the K-quants. Their quantisers live in Quantize8.swift.

/// Q8_0 (ggml type 8): 32 values as `d: f16, qs: [Int8; 32]`; value = d * q. 34 bytes.
public enum Q8_0: QuantFormat, ActivationFormat, BlockDotKernel {
    public typealias Activation = Q8_0
    public static var name: String { "Q8_0" }
    public static var ggmlType: UInt32 { 8 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 34 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 34
            let d = b.half(at: 0)
            let q = b.signedBytes(at: 2)
            let y = output + block &* 32
            for j in 0..<32 { y[j] = Float(q[j]) * d }
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
        let w = weights + block &* 34, a = activations + block &* 34
        return roundBlock(sum: blockSum(w, a), w, a)
    }

    /// A block's product from its exact sum: d_w d_a · sum.
    @inline(__always)
    static func roundBlock(sum: Int32, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        Float(sum) * (w.half(at: 0) * a.half(at: 0))
    }

    /// Σ w_j · a_j over the block at `weights` and the Q8_0 activation block at `activations`:
    /// the exact integer sum every Q8_0 kernel rounds once. AVX2 builds compute it with
    /// `vpmaddubsw` (`avx2SignedByteSum`), others with `blockSumReference`'s plain loop.
    @inline(__always)
    public static func blockSum(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        #if HEARTH_AVX2
        avx2SignedByteSum(weights + 2, activations + 2)
        #else
        blockSumReference(weights, activations)
        #endif
    }

    /// The plain-loop twin of ``blockSum(_:_:)``.
    @inline(__always)
    public static func blockSumReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Int32 {
        let wq = weights.signedBytes(at: 2), aq = activations.signedBytes(at: 2)
        var sum: Int32 = 0
        for j in 0..<32 { sum &+= Int32(wq[j]) &* Int32(aq[j]) }
        return sum
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 34, a = activations + block * 34
            var sum: Int32 = 0
            for j in 0..<32 {
                sum += Int32(w.load(fromByteOffset: 2 + j, as: Int8.self)) * Int32(a.load(fromByteOffset: 2 + j, as: Int8.self))
            }
            total += Float(sum) * halfToFloatReference(w.loadUnaligned(as: UInt16.self))
                * halfToFloatReference(a.loadUnaligned(as: UInt16.self))
        }
        return total
    }
}

/// Q8_1 (ggml type 9): 32 values as `d: f16, s: f16, qs: [Int8; 32]`, where s = d * sum(qs);
/// value = d * q. 36 bytes. Activation-only here.
public enum Q8_1: ActivationFormat {
    public static var name: String { "Q8_1" }
    public static var ggmlType: UInt32 { 9 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 36 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 32 {
            let b = row + block &* 36
            let d = b.half(at: 0)
            let q = b.signedBytes(at: 4)
            let y = output + block &* 32
            for j in 0..<32 { y[j] = Float(q[j]) * d }
        }
    }
}

/// Q8_K (ggml type 15): 256 values as `d: f32, qs: [Int8; 256], bsums: [Int16; 16]`, where
/// bsums[i] is the sum of qs[16i ..< 16i+16]; value = d * q. 292 bytes. Activation-only here.
public enum Q8_K: ActivationFormat {
    public static var name: String { "Q8_K" }
    public static var ggmlType: UInt32 { 15 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 292 }

    /// Byte offsets of the fields inside a block.
    static let scaleOffset = 0, quantsOffset = 4, sumsOffset = 260

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for block in 0..<count / 256 {
            let b = row + block &* 292
            let d = b.loadUnaligned(as: Float.self)
            let q = b.signedBytes(at: quantsOffset)
            let y = output + block &* 256
            for j in 0..<256 { y[j] = Float(q[j]) * d }
        }
    }
}

extension UnsafeRawPointer {
    /// The Q8_K partial sum `index` (of 16) of the block starting here.
    @inline(__always)
    func q8KBlockSum(_ index: Int) -> Int32 {
        Int32(Int16(littleEndian: loadUnaligned(fromByteOffset: Q8_K.sumsOffset &+ index &* 2, as: Int16.self)))
    }

    /// The Q8_K scale of the block starting here.
    @inline(__always)
    var q8KScale: Float { loadUnaligned(as: Float.self) }
}

/// The Q8_K scales of four activation rows' blocks, `stride` bytes apart, for a tile's lanes.
@inline(__always)
func q8KScales4(_ a: UnsafeRawPointer, stride: Int) -> SIMD4<Float> {
    SIMD4(a.q8KScale, (a + stride).q8KScale, (a + 2 &* stride).q8KScale, (a + 3 &* stride).q8KScale)
}
