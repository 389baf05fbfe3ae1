// Quantised block formats as types.
//
// A tensor row in a GGUF file is a sequence of fixed-size blocks; each block holds `blockSize`
// values in `bytesPerBlock` bytes (the layouts are ggml's, byte for byte, little endian). Each
// weight format names the 8-bit activation format it is dotted with, so a matrix-vector product
// quantises the input vector once and then runs an all-integer inner loop per block, as ggml does.
//
// Dispatch happens once per row: drivers call `dot` through the format's metatype, and every
// conforming type gets its own specialised copy of the hot loops.

/// A block format: how many values a block holds, its size in bytes, and how to turn it into floats.
public protocol BlockFormat: SendableMetatype {
    /// ggml's name for the type, e.g. `"Q4_K"`.
    static var name: String { get }
    /// ggml's numeric type id as stored in GGUF tensor infos, e.g. 12 for Q4_K.
    static var ggmlType: UInt32 { get }
    /// Values per block.
    static var blockSize: Int { get }
    /// Bytes per block.
    static var bytesPerBlock: Int { get }

    /// Byte alignment a row must start at (the float formats are read as typed values; the
    /// quantised formats are read byte-wise and need none).
    static var rowAlignment: Int { get }

    /// Dequantises `count` values (a multiple of `blockSize`) starting at `row` into `output`.
    static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>)
}

extension BlockFormat {
    public static var rowAlignment: Int { 1 }

    /// Bytes taken by a row of `columns` values, or nil if `columns` is not a positive multiple of
    /// `blockSize` (or the size would overflow).
    public static func rowByteCount(columns: Int) -> Int? {
        guard columns > 0, columns % blockSize == 0 else { return nil }
        let (bytes, overflow) = (columns / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}

/// A format activations are quantised to before being dotted with weights.
public protocol ActivationFormat: BlockFormat {
    /// Quantises `count` floats (a multiple of `blockSize`) into `rowByteCount(columns: count)` bytes.
    static func quantize(row: UnsafePointer<Float>, count: Int, into output: UnsafeMutableRawPointer)
}

/// A weight format: dequantisable, and dottable with its activation format.
///
/// ```swift
/// // One weight row (Q4_0) against one activation row (quantised once to Q8_0).
/// Q8_0.quantize(row: x, count: n, into: xq)
/// let y = Q4_0.dot(weightRow, xq, count: n)
/// ```
public protocol QuantFormat: BlockFormat {
    /// The format activations are quantised to for `dot` (F32 for the float formats).
    associatedtype Activation: ActivationFormat

    /// Dot product of `count` weights with `count` activations already quantised to `Activation`.
    static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float

    /// Scalar reference twin of `dot`: plain, obviously correct loops, used to test the fast path.
    static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float

    /// Dots one weight row with `activationCount` activation rows, `activationStride` bytes apart,
    /// writing the results `outputStride` floats apart. A requirement (with a default) so formats can
    /// supply a micro-kernel that unpacks each weight block once for several activations.
    static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int)

    /// `(dot(first, activations), dot(second, activations))`, bit for bit, with the two rows' blocks
    /// read side by side. Decode walks each thread's rows as two streams through it (the two
    /// halves of its share): two rows' bytes come from memory at once, where one row at a time
    /// left the core waiting on its single stream. A requirement (with a default that dots the
    /// rows one after the other) so that formats can interleave their blocks.
    static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float)
}

extension QuantFormat {
    /// `Activation` as a value, for code holding the format as `any QuantFormat.Type`.
    public static var activationFormat: any ActivationFormat.Type { Activation.self }

    public static func dot(
        _ weights: UnsafeRawPointer, activations: UnsafeRawPointer, activationStride: Int,
        activationCount: Int, count: Int, into output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        for index in 0..<activationCount {
            output[index &* outputStride] = dot(weights, activations + index &* activationStride, count: count)
        }
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        (dot(first, activations, count: count), dot(second, activations, count: count))
    }
}

// MARK: - Byte access shared by the formats

extension UnsafeRawPointer {
    /// The binary16 value at `offset` bytes, as a Float (GGUF is little endian).
    @inline(__always)
    func half(at offset: Int) -> Float {
        halfToFloat(UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// The little-endian UInt32 at `offset` bytes.
    @inline(__always)
    func uint32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Unsigned bytes starting at `offset`.
    @inline(__always)
    func bytes(at offset: Int) -> UnsafePointer<UInt8> {
        (self + offset).assumingMemoryBound(to: UInt8.self)
    }

    /// Signed bytes starting at `offset`.
    @inline(__always)
    func signedBytes(at offset: Int) -> UnsafePointer<Int8> {
        (self + offset).assumingMemoryBound(to: Int8.self)
    }
}

/// A format whose fast dot is a per-block kernel summed by `sumBlocks` or `sumSuperBlocks`.
/// A static method rather than a closure: generic specialisation then inlines the block kernel
/// into the unrolled loop (a closure argument was left as an indirect call in every iteration).
protocol BlockDotKernel {
    /// Dot product of block `block` of a weight row with the same block of an activation row.
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float
}

/// Sums `K.blockDot` over `blocks` blocks with four independent accumulators, so that the
/// compiler can run four blocks side by side (SLP vectorisation) instead of one serial float chain.
@inline(__always)
func sumBlocks<K: BlockDotKernel>(
    _ kernel: K.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int
) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var block = 0
    while block &+ 4 <= blocks {
        s0 += K.blockDot(weights, activations, block: block)
        s1 += K.blockDot(weights, activations, block: block &+ 1)
        s2 += K.blockDot(weights, activations, block: block &+ 2)
        s3 += K.blockDot(weights, activations, block: block &+ 3)
        block &+= 4
    }
    while block < blocks {
        s0 += K.blockDot(weights, activations, block: block)
        block &+= 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// `sumBlocks` for two weight rows at once, block by block: each row's four accumulators take
/// exactly the values, in exactly the order, that `sumBlocks` gives them.
@inline(__always)
func sumBlocksTwoRows<K: BlockDotKernel>(
    _ kernel: K.Type, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int
) -> (Float, Float) {
    var s0 = SIMD2<Float>(), s1 = SIMD2<Float>(), s2 = SIMD2<Float>(), s3 = SIMD2<Float>()
    @inline(__always)
    func pair(_ block: Int) -> SIMD2<Float> {
        SIMD2(K.blockDot(first, activations, block: block), K.blockDot(second, activations, block: block))
    }
    var block = 0
    while block &+ 4 <= blocks {
        s0 += pair(block)
        s1 += pair(block &+ 1)
        s2 += pair(block &+ 2)
        s3 += pair(block &+ 3)
        block &+= 4
    }
    while block < blocks {
        s0 += pair(block)
        block &+= 1
    }
    let total = (s0 + s1) + (s2 + s3)
    return (total[0], total[1])
}

/// `dotTwoRows` for a 32-value format whose `dot` is `sumBlocks` except on AVX-512 VNNI: there its
/// two dots, elsewhere the two rows block by block.
@inline(__always)
func sumBlocksTwoRowsUnlessVNNI<K: QuantFormat & BlockDotKernel>(
    _ kernel: K.Type, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
) -> (Float, Float) {
    #if HEARTH_AVX512_VNNI
    (K.dot(first, activations, count: count), K.dot(second, activations, count: count))
    #else
    sumBlocksTwoRows(K.self, first, second, activations, blocks: count / 32)
    #endif
}

/// The same for a format with its own AVX2 `dot` as well.
@inline(__always)
func sumBlocksTwoRowsUnlessVNNIOrAVX2<K: QuantFormat & BlockDotKernel>(
    _ kernel: K.Type, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
) -> (Float, Float) {
    #if HEARTH_AVX512_VNNI || HEARTH_AVX2
    (K.dot(first, activations, count: count), K.dot(second, activations, count: count))
    #else
    sumBlocksTwoRows(K.self, first, second, activations, blocks: count / 32)
    #endif
}

/// `sumBlocks`' four accumulators over per-block values from a closure (for kernels whose block
/// product is not a format's `blockDot`): block k into accumulator k % 4 (the remainder into the
/// first), summed as (s0 + s1) + (s2 + s3).
@inline(__always)
func sumBlockValues(_ blocks: Int, _ value: (Int) -> Float) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var block = 0
    while block &+ 4 <= blocks {
        s0 += value(block)
        s1 += value(block &+ 1)
        s2 += value(block &+ 2)
        s3 += value(block &+ 3)
        block &+= 4
    }
    while block < blocks {
        s0 += value(block)
        block &+= 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// Sums `K.blockDot` over `blocks` super-blocks (256 values: enough work per block that a single
/// accumulator costs nothing).
@inline(__always)
func sumSuperBlocks<K: BlockDotKernel>(
    _ kernel: K.Type, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int
) -> Float {
    var total: Float = 0
    for block in 0..<blocks { total += K.blockDot(weights, activations, block: block) }
    return total
}

/// `sumSuperBlocks` for two weight rows at once, block by block (each row's sum is
/// `sumSuperBlocks`' bit for bit).
@inline(__always)
func sumSuperBlocksTwoRows<K: BlockDotKernel>(
    _ kernel: K.Type, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, blocks: Int
) -> (Float, Float) {
    var total = SIMD2<Float>()
    for block in 0..<blocks {
        total += SIMD2(K.blockDot(first, activations, block: block), K.blockDot(second, activations, block: block))
    }
    return (total[0], total[1])
}

/// Runs `accumulate` on `width` zeroed Int32 lanes (a stack buffer) and returns their sum. The
/// K-quant kernels add scale * quant * activation into fixed lanes for a whole super-block and
/// reduce once at the end, instead of reducing every 16- or 32-value sub-block to a scalar.
@inline(__always)
func laneSum(_ width: Int, _ accumulate: (UnsafeMutablePointer<Int32>) -> Void) -> Int32 {
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: width) { lanes in
        let base = lanes.baseAddress!
        base.initialize(repeating: 0, count: width)
        accumulate(base)
        var sum: Int32 = 0
        for lane in 0..<width { sum &+= base[lane] }
        return sum
    }
}
