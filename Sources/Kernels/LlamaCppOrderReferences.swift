// Scalar twins of the AVX-512 VNNI kernels' float order, which is llama.cpp's x86 order: plain
// loops over the block bytes, one IEEE operation at a time (`fmaf` where ggml fuses), so tests can
// check the fast kernels against them bit for bit. The exact integer sums may be formed in any
// order; only the float operations are fixed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `hsum_float_8`: (a4 + a0, a5 + a1, a6 + a2, a7 + a3), then (r0 + r2) + (r1 + r3).
func eightLaneSumReference(_ a: [Float]) -> Float {
    let r = (0..<4).map { a[$0 + 4] + a[$0] }
    return (r[0] + r[2]) + (r[1] + r[3])
}

/// The 32 integer quants of one block of a 32-value weight format, and its `m` (0 without one).
func blockQuantsReference(_ ggmlType: UInt32, _ block: UnsafeRawPointer) -> (quants: [Int32], minimum: Float) {
    func nibble(_ qs: Int, _ j: Int) -> Int32 {
        let byte = block.load(fromByteOffset: qs + j % 16, as: UInt8.self)
        return Int32(j < 16 ? byte & 0x0F : byte >> 4)
    }
    func fifthBit(_ qh: Int, _ j: Int) -> Int32 {
        Int32((block.loadUnaligned(fromByteOffset: qh, as: UInt32.self) >> UInt32(j)) & 1) << 4
    }
    let half = { (offset: Int) in halfToFloatReference(block.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    switch ggmlType {
    case Q4_0.ggmlType: return ((0..<32).map { nibble(2, $0) - 8 }, 0)
    case Q4_1.ggmlType: return ((0..<32).map { nibble(4, $0) }, half(2))
    case Q5_0.ggmlType: return ((0..<32).map { (nibble(6, $0) | fifthBit(2, $0)) - 16 }, 0)
    case Q5_1.ggmlType: return ((0..<32).map { nibble(8, $0) | fifthBit(4, $0) }, half(2))
    case Q8_0.ggmlType: return ((0..<32).map { Int32(block.load(fromByteOffset: 2 + $0, as: Int8.self)) }, 0)
    default: preconditionFailure("not a 32-value weight format: type \(ggmlType)")
    }
}

extension QuantFormat {
    /// `dot` in llama.cpp's x86 order for a 32-value format (`ggml_vec_dot_*` / tinyBLAS): per
    /// block, lane i (values 4i ..< 4i + 4) converted and fused into accumulator i with d_w * d_a;
    /// `hsum_float_8`; plus Σ m_w * s_a fused block by block (Q4_1, Q5_1).
    public static func dotLlamaCppOrderReference(_ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int) -> Float {
        precondition(blockSize == 32, "\(name) is not a 32-value format")
        let aBytes = Activation.bytesPerBlock, quantsOffset = aBytes == 36 ? 4 : 2
        var lanes = [Float](repeating: 0, count: 8)
        var minimums: Float = 0
        for block in 0..<count / 32 {
            let w = weights + block * bytesPerBlock, a = activations + block * aBytes
            let (quants, m) = blockQuantsReference(ggmlType, w)
            let d = halfToFloatReference(w.loadUnaligned(as: UInt16.self)) * halfToFloatReference(a.loadUnaligned(as: UInt16.self))
            for lane in 0..<8 {
                var sum: Int32 = 0
                for j in 4 * lane..<4 * lane + 4 {
                    sum += quants[j] * Int32(a.load(fromByteOffset: quantsOffset + j, as: Int8.self))
                }
                lanes[lane] = fmaf(d, Float(sum), lanes[lane])
            }
            if quantsOffset == 4 {
                minimums = fmaf(m, halfToFloatReference(a.loadUnaligned(fromByteOffset: 2, as: UInt16.self)), minimums)
            }
        }
        return eightLaneSumReference(lanes) + minimums
    }
}

extension Q4_K {
    /// `dot` in llama.cpp's repacked Q4_K order: exact scaled and minimum sums over each pair of
    /// sub-blocks (`inFours`, `ggml_gemm_q4_K_8x8_q8_K`) or each super-block (`ggml_gemv_…`), each
    /// fused into its own accumulator with d_w * d_a and dmin_w * d_a; products - minimums.
    public static func dotLlamaCppOrderReference(
        _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int, inFours: Bool
    ) -> Float {
        var products: Float = 0, minimums: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 144, a = activations + block * 292
            let da = a.loadUnaligned(as: Float.self)
            let d = halfToFloatReference(w.loadUnaligned(as: UInt16.self)) * da
            let dmin = halfToFloatReference(w.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) * da
            var scaled: Int32 = 0, minimum: Int32 = 0
            for subBlock in 0..<8 {
                let (scale, min) = kQuantScaleAndMin(w.bytes(at: 4), subBlock)
                var sum: Int32 = 0
                for l in 0..<32 {
                    let byte = w.load(fromByteOffset: 16 + 32 * (subBlock / 2) + l, as: UInt8.self)
                    let quant = Int32(subBlock % 2 == 0 ? byte & 0x0F : byte >> 4)
                    sum += quant * Int32(a.load(fromByteOffset: Q8_K.quantsOffset + 32 * subBlock + l, as: Int8.self))
                }
                scaled += scale * sum
                minimum += min * (a.q8KBlockSum(2 * subBlock) + a.q8KBlockSum(2 * subBlock + 1))
                if inFours && subBlock % 2 == 1 {
                    products = fmaf(Float(scaled), d, products)
                    minimums = fmaf(Float(minimum), dmin, minimums)
                    scaled = 0
                    minimum = 0
                }
            }
            if !inFours {
                products = fmaf(Float(scaled), d, products)
                minimums = fmaf(Float(minimum), dmin, minimums)
            }
        }
        return products - minimums
    }
}

extension Q6_K {
    /// `dot` in llama.cpp's Q6_K orders: `ggml_vec_dot_q6_K_q8_K`'s eight lanes (lane i: values
    /// 4i ..< 4i + 4 of every 32, less 32 * (bsums[2i] scale[2i] + bsums[2i+1] scale[2i+1]))
    /// fused with d_a * d_w and summed as `hsum_float_8`; or, for rows of batches of 8 or more
    /// (`tiled`), the super-block's exact sum times d_w, fused with d_a.
    public static func dotLlamaCppOrderReference(
        _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer, count: Int, tiled: Bool
    ) -> Float {
        var lanes = [Float](repeating: 0, count: 8)
        var total: Float = 0
        for block in 0..<count / 256 {
            let w = weights + block * 210, a = activations + block * 292
            let dw = halfToFloatReference(w.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
            let da = a.loadUnaligned(as: Float.self)
            var laneSums = [Int32](repeating: 0, count: 8)
            for element in 0..<256 {
                let half = element / 128, quarter = (element % 128) / 32, l = element % 32
                let lowByte = w.load(fromByteOffset: 64 * half + 32 * (quarter % 2) + l, as: UInt8.self)
                let low = quarter < 2 ? lowByte & 0x0F : lowByte >> 4
                let high = (w.load(fromByteOffset: 128 + 32 * half + l, as: UInt8.self) >> (2 * quarter)) & 3
                let scale = Int32(w.load(fromByteOffset: 192 + element / 16, as: Int8.self))
                let activation = Int32(a.load(fromByteOffset: Q8_K.quantsOffset + element, as: Int8.self))
                laneSums[(element % 32) / 4] += scale * Int32(low | high << 4) * activation
            }
            for lane in 0..<8 {
                for group in [2 * lane, 2 * lane + 1] {
                    laneSums[lane] -= 32 * Int32(w.load(fromByteOffset: 192 + group, as: Int8.self)) * a.q8KBlockSum(group)
                }
            }
            if tiled {
                total = fmaf(Float(laneSums.reduce(0, +)) * dw, da, total)
            } else {
                for lane in 0..<8 { lanes[lane] = fmaf(da * dw, Float(laneSums[lane]), lanes[lane]) }
            }
        }
        return tiled ? total : eightLaneSumReference(lanes)
    }
}
