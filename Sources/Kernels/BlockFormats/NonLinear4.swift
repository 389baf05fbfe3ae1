// The 4-bit formats whose nibbles index a table of 16 values instead of counting steps: IQ4_NL
// and IQ4_XS (a table fitted to the distribution of weights, `kvalues_iq4nl`) and MXFP4 (the
// OCP microscaling format: FP4 E2M1 values under a power-of-two scale, as gpt-oss ships). Byte j
// of a 32-value block's `qs` holds element j in its low nibble and element j + 16 in its high
// nibble, as in Q4_0.
//
// Fast dots: the block's integer products with the table looked up once per nibble, one float
// multiply per block (IQ4_XS: per 32 values, with its 6-bit scale), four blocks in flight. The
// table values are integers, so the integer sums are exact and only the float order differs from
// llama.cpp's. Reference twins: plain loops, element by element.

/// IQ4_NL's and IQ4_XS's 16 values (llama.cpp's `kvalues_iq4nl`).
let nonLinear4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// MXFP4's 16 values: FP4 E2M1 (sign, 2-bit exponent, 1-bit mantissa) doubled so they are
/// integers (llama.cpp's `kvalues_mxfp4`); the block scale is halved to match.
let fp4DoubledValues: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

/// The doubled FP4 E2M1 value of `nibble`, computed instead of looked up in `fp4DoubledValues`
/// so that the loops over it vectorise (LLVM forms no vector table lookup: the looked-up dot was
/// scalar on AArch64 and gathered byte by byte on x86). Bit 3 is the sign; magnitudes 0-3 are
/// the low three bits themselves (zero and the subnormal), 4-7 are (2 + mantissa bit) times
/// (2 + 2 * exponent's high bit): 4, 6, 8, 12.
@inline(__always)
func fp4DoubledValue(_ nibble: UInt8) -> Int16 {
    let low = Int16(nibble & 7)
    let magnitude = low < 4 ? low : (2 &+ (low & 1)) &* (2 &+ (low & 2))
    return nibble & 8 == 0 ? magnitude : 0 &- magnitude
}

/// `tableNibbleDot` with MXFP4's values computed (`fp4DoubledValue`).
@inline(__always)
func fp4NibbleDot(_ nibbles: UnsafePointer<UInt8>, _ activations: UnsafePointer<Int8>) -> Int32 {
    var sum: Int32 = 0
    for j in 0..<16 {
        let byte = nibbles[j]
        sum &+= Int32(fp4DoubledValue(byte & 0x0F)) &* Int32(activations[j])
        sum &+= Int32(fp4DoubledValue(byte >> 4)) &* Int32(activations[j &+ 16])
    }
    return sum
}

/// The integer dot of 16 bytes of nibbles (elements j and j + 16) with 32 signed activations,
/// each nibble mapped through `table`.
@inline(__always)
func tableNibbleDot(_ nibbles: UnsafePointer<UInt8>, _ activations: UnsafePointer<Int8>, table: UnsafePointer<Int8>) -> Int32 {
    var low: Int32 = 0, high: Int32 = 0
    for j in 0..<16 {
        let byte = nibbles[j]
        low &+= Int32(table[Int(byte & 0x0F)]) &* Int32(activations[j])
        high &+= Int32(table[Int(byte >> 4)]) &* Int32(activations[j &+ 16])
    }
    return low &+ high
}

/// Writes the 32 values of 16 bytes of nibbles (elements j and j + 16) mapped through `table`,
/// times `scale`.
@inline(__always)
func dequantizeTableNibbles(_ nibbles: UnsafePointer<UInt8>, table: UnsafeBufferPointer<Int8>, scale: Float, into y: UnsafeMutablePointer<Float>) {
    for j in 0..<16 {
        y[j] = scale * Float(table[Int(nibbles[j] & 0x0F)])
        y[j + 16] = scale * Float(table[Int(nibbles[j] >> 4)])
    }
}

/// Plain twin of `tableNibbleDot`: element i of the block is nibble i % 16 (low half first).
func referenceTableNibbleDot(_ block: UnsafeRawPointer, nibblesAt offset: Int, _ activations: UnsafeRawPointer, at activationOffset: Int,
                             table: [Int8]) -> Int32 {
    var sum: Int32 = 0
    for i in 0..<32 {
        let byte = block.load(fromByteOffset: offset + i % 16, as: UInt8.self)
        let nibble = i < 16 ? byte & 0x0F : byte >> 4
        sum += Int32(table[Int(nibble)]) * Int32(activations.load(fromByteOffset: activationOffset + i, as: Int8.self))
    }
    return sum
}

/// IQ4_NL (ggml type 20): `d: f16, qs: [UInt8; 16]`; value = d * kvalues_iq4nl[nibble]. 18 bytes.
public enum IQ4_NL: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_0
    public static var name: String { "IQ4_NL" }
    public static var ggmlType: UInt32 { 20 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 18 }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        nonLinear4Values.withUnsafeBufferPointer { table in
            for block in 0..<count / 32 {
                let b = row + block &* 18
                dequantizeTableNibbles(b.bytes(at: 2), table: table, scale: b.half(at: 0), into: output + block &* 32)
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        sumBlocksTwoRows(Self.self, first, second, activations, blocks: count / 32)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 18, a = activations + block &* 34
        let sum = nonLinear4Values.withUnsafeBufferPointer { tableNibbleDot(w.bytes(at: 2), a.signedBytes(at: 2), table: $0.baseAddress!) }
        return Float(sum) * (w.half(at: 0) * a.half(at: 0))
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 18, a = activations + block * 34
            let sum = referenceTableNibbleDot(w, nibblesAt: 2, a, at: 2, table: nonLinear4Values)
            total += Float(sum) * referenceHalf(w, 0) * referenceHalf(a, 0)
        }
        return total
    }
}

/// MXFP4 (ggml type 39): `e: E8M0, qs: [UInt8; 16]`; value = 2^(e - 128) * kvalues_mxfp4[nibble]
/// (the doubled FP4 values under half the block's power-of-two scale). 17 bytes.
public enum MXFP4: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_0
    public static var name: String { "MXFP4" }
    public static var ggmlType: UInt32 { 39 }
    public static var blockSize: Int { 32 }
    public static var bytesPerBlock: Int { 17 }

    /// Half the E8M0 scale 2^(e - 127), exactly (llama.cpp's `ggml_e8m0_to_fp32_half`): e = 0
    /// and 1 give the subnormals 2^-128 and 2^-127.
    @inline(__always)
    static func halfScale(_ e: UInt8) -> Float {
        Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << UInt32(e) : UInt32(e &- 1) << 23)
    }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        fp4DoubledValues.withUnsafeBufferPointer { table in
            for block in 0..<count / 32 {
                let b = row + block &* 17
                dequantizeTableNibbles(b.bytes(at: 1), table: table, scale: halfScale(b.bytes(at: 0)[0]), into: output + block &* 32)
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        sumBlocks(Self.self, weights, activations, blocks: count / 32)
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        sumBlocksTwoRows(Self.self, first, second, activations, blocks: count / 32)
    }

    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block: Int) -> Float {
        let w = weights + block &* 17, a = activations + block &* 34
        let sum = fp4NibbleDot(w.bytes(at: 1), a.signedBytes(at: 2))
        return Float(sum) * (a.half(at: 0) * halfScale(w.bytes(at: 0)[0]))
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * 17, a = activations + block * 34
            let e = Int(w.load(fromByteOffset: 0, as: UInt8.self))
            // 2^(e - 128) written out: the scale the bit pattern in `halfScale` encodes.
            let scale = Float(sign: .plus, exponent: e - 128, significand: 1)
            let sum = referenceTableNibbleDot(w, nibblesAt: 1, a, at: 2, table: fp4DoubledValues)
            total += Float(sum) * referenceHalf(a, 0) * scale
        }
        return total
    }
}

/// IQ4_XS (ggml type 23): 256 values as eight 32-value blocks of IQ4_NL nibbles under one binary16
/// scale `d` and a 6-bit scale per block (`scales_l` low nibbles, `scales_h` two high bits each):
/// `d: f16, scales_h: u16, scales_l: [UInt8; 4], qs: [UInt8; 128]`; value = d * (ls - 32) *
/// kvalues_iq4nl[nibble]. 136 bytes. Dotted with Q8_K.
public enum IQ4_XS: QuantFormat, BlockDotKernel {
    public typealias Activation = Q8_K
    public static var name: String { "IQ4_XS" }
    public static var ggmlType: UInt32 { 23 }
    public static var blockSize: Int { 256 }
    public static var bytesPerBlock: Int { 136 }

    /// Block `block`'s 6-bit scale, less 32.
    @inline(__always)
    static func scale(_ superBlock: UnsafeRawPointer, _ block: Int) -> Int32 {
        let high = UInt16(littleEndian: superBlock.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let low = superBlock.bytes(at: 4)[block / 2] >> (4 * UInt8(block % 2)) & 0x0F
        return Int32(low) | Int32((high >> (2 * UInt16(block))) & 3) << 4 - 32
    }

    public static func dequantize(row: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        nonLinear4Values.withUnsafeBufferPointer { table in
            for superBlock in 0..<count / 256 {
                let b = row + superBlock &* 136
                let d = b.half(at: 0)
                for block in 0..<8 {
                    dequantizeTableNibbles(b.bytes(at: 8 + 16 * block), table: table, scale: d * Float(scale(b, block)),
                                           into: output + superBlock &* 256 + 32 * block)
                }
            }
        }
    }

    public static func dot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        sumSuperBlocks(Self.self, weights, activations, blocks: count / 256)
    }

    public static func dotTwoRows(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int
    ) -> (Float, Float) {
        sumSuperBlocksTwoRows(Self.self, first, second, activations, blocks: count / 256)
    }

    /// The super-block's eight blocks: integer sums scaled by their 6-bit scales (exact in Int32:
    /// at most 8 × 63 × 32 × 127 × 128), one float multiply.
    @inline(__always)
    static func blockDot(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, block superBlock: Int) -> Float {
        let w = weights + superBlock &* 136, a = activations + superBlock &* Q8_K.bytesPerBlock
        let aq = a.signedBytes(at: Q8_K.quantsOffset)
        let sum = nonLinear4Values.withUnsafeBufferPointer { table in
            var sum: Int32 = 0
            for block in 0..<8 {
                sum &+= scale(w, block) &* tableNibbleDot(w.bytes(at: 8 &+ 16 &* block), aq + 32 &* block, table: table.baseAddress!)
            }
            return sum
        }
        return Float(sum) * (w.half(at: 0) * a.loadUnaligned(fromByteOffset: Q8_K.scaleOffset, as: Float.self))
    }

    public static func dotReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        var total: Float = 0
        for superBlock in 0..<count / 256 {
            let w = weights + superBlock * 136, a = activations + superBlock * 292
            let scalesHigh = Int(w.load(fromByteOffset: 2, as: UInt8.self)) | Int(w.load(fromByteOffset: 3, as: UInt8.self)) << 8
            var sum = 0
            for block in 0..<8 {
                let lowByte = Int(w.load(fromByteOffset: 4 + block / 2, as: UInt8.self))
                let ls = (block % 2 == 0 ? lowByte & 15 : lowByte >> 4) + ((scalesHigh >> (2 * block)) & 3) * 16
                let blockSum = referenceTableNibbleDot(w, nibblesAt: 8 + 16 * block, a, at: 4 + 32 * block, table: nonLinear4Values)
                sum += (ls - 32) * Int(blockSum)
            }
            total += Float(sum) * referenceHalf(w, 0) * a.load(fromByteOffset: 0, as: Float.self)
        }
        return total
    }
}
