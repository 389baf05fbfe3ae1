import Kernels
import Testing

/// The plain-loop block sums (what portable builds run, the twins of the AVX2 forms, and Q3_K's and
/// Q5_K's in every build) against
/// the same sums written element by element from the formats' layouts: random blocks and every
/// extreme, exactly. They multiply quants by their scales in 16 bits and take offsets from the
/// activations' group sums, so any overflow or misplaced lane shows here.
@Suite struct PlainBlockSumTests {
    /// Q8_K activation quant `i` (quants at bytes 4..<260).
    static func q8K(_ a: UnsafeRawPointer, _ i: Int) -> Int32 { Int32(a.load(fromByteOffset: 4 + i, as: Int8.self)) }

    /// Q4_K sub-block `j`'s 6-bit scale and minimum, from ggml's 12-byte packing at bytes 4..<16.
    static func q4KScaleAndMin(_ w: UnsafeRawPointer, _ j: Int) -> (scale: Int32, min: Int32) {
        let byte = { (i: Int) in Int32(w.load(fromByteOffset: 4 + i, as: UInt8.self)) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0x0F) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }

    static func q4KSums(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> (scaled: Int32, minimums: Int32) {
        var scaled: Int32 = 0, minimums: Int32 = 0
        for element in 0..<256 {
            let (scale, min) = q4KScaleAndMin(w, element / 32)
            let byte = Int32(w.load(fromByteOffset: 16 + 32 * (element / 64) + element % 32, as: UInt8.self))
            let quant = element % 64 < 32 ? byte & 0x0F : byte >> 4
            scaled += scale * quant * q8K(a, element)
            minimums += min * q8K(a, element)
        }
        return (scaled, minimums)
    }

    /// Q5_K: Q4_K's scales and nibbles (quants at bytes 48..<176) plus a fifth bit from qh (16..<48).
    static func q5KScaledSum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        var sum: Int32 = 0
        for element in 0..<256 {
            let chunk = element / 64, l = element % 32, isHigh = element % 64 >= 32
            let byte = Int32(w.load(fromByteOffset: 48 + 32 * chunk + l, as: UInt8.self))
            let fifth = (Int32(w.load(fromByteOffset: 16 + l, as: UInt8.self)) >> (2 * chunk + (isHigh ? 1 : 0))) & 1
            let quant = (isHigh ? byte >> 4 : byte & 0x0F) + 16 * fifth
            sum += q4KScaleAndMin(w, element / 32).scale * quant * q8K(a, element)
        }
        return sum
    }

    /// Q3_K: 2 low bits in qs (bytes 32..<96), a third bit in hmask (0..<32), minus 4; 6-bit
    /// signed group scales (minus 32) packed in bytes 96..<108.
    static func q3KScaledSum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        let byte = { (offset: Int) in Int32(w.load(fromByteOffset: offset, as: UInt8.self)) }
        var sum: Int32 = 0
        for element in 0..<256 {
            let group = element / 16
            let low = group < 8 ? byte(96 + group % 8) & 0x0F : byte(96 + group % 8) >> 4
            let scale = low + 16 * ((byte(104 + group % 4) >> (2 * (group / 4))) & 3) - 32
            let half = element / 128, j = (element % 128) / 32, l = element % 32
            let twoBits = (byte(32 + 32 * half + l) >> (2 * j)) & 3
            let third = (byte(l) >> (4 * half + j)) & 1
            sum += scale * (twoBits + 4 * third - 4) * q8K(a, element)
        }
        return sum
    }

    static func q6KSum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        var sum: Int32 = 0
        for element in 0..<256 {
            let half = element / 128, quarter = (element % 128) / 32, l = element % 32
            let lowByte = Int32(w.load(fromByteOffset: 64 * half + 32 * (quarter % 2) + l, as: UInt8.self))
            let low = quarter < 2 ? lowByte & 0x0F : lowByte >> 4
            let high = (Int32(w.load(fromByteOffset: 128 + 32 * half + l, as: UInt8.self)) >> (2 * quarter)) & 3
            let scale = Int32(w.load(fromByteOffset: 192 + element / 16, as: Int8.self))
            sum += scale * (low + 16 * high - 32) * q8K(a, element)
        }
        return sum
    }

    static func q5_0Sum(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Int32 {
        let qh = w.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
        var sum: Int32 = 0
        for element in 0..<32 {
            let byte = Int32(w.load(fromByteOffset: 6 + element % 16, as: UInt8.self))
            let nibble = element < 16 ? byte & 0x0F : byte >> 4
            let quant = nibble + 16 * Int32((qh >> UInt32(element)) & 1) - 16
            sum += quant * Int32(a.load(fromByteOffset: 2 + element, as: Int8.self))
        }
        return sum
    }

    @Test(arguments: ["Q3_K", "Q4_K", "Q4_K minimums", "Q5_K", "Q6_K", "Q5_0"])
    func plainSumEqualsTheElementwiseSum(_ name: String) {
        let (weightBytes, activationBytes, quants, lowest): (Int, Int, Range<Int>, Int8) = switch name {
        case "Q5_0": (22, 34, 2..<34, -127)
        case "Q6_K": (210, 292, 4..<260, -128)
        case "Q5_K": (176, 292, 4..<260, -128)
        case "Q3_K": (110, 292, 4..<260, -128)
        default: (144, 292, 4..<260, -128)
        }
        var generator = SystemRandomNumberGenerator()
        let weights = UnsafeMutableRawPointer.allocate(byteCount: weightBytes, alignment: 16)
        let activations = UnsafeMutableRawPointer.allocate(byteCount: activationBytes, alignment: 16)
        defer { weights.deallocate(); activations.deallocate() }
        for trial in 0..<5_000 {
            for offset in 0..<weightBytes {
                let byte: UInt8 = trial < 4 ? (trial % 2 == 0 ? 0 : 0xFF) : UInt8.random(in: 0...255, using: &generator)
                weights.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
            }
            for offset in quants {
                let quant: Int8 = trial < 4 ? (trial < 2 ? lowest : 127) : Int8.random(in: lowest...127, using: &generator)
                activations.storeBytes(of: quant, toByteOffset: offset, as: Int8.self)
            }
            if activationBytes == 292 {
                // Q8_K's sixteen group sums, as its quantiser writes them.
                for group in 0..<16 {
                    var sum: Int16 = 0
                    for j in 0..<16 { sum += Int16(activations.load(fromByteOffset: 4 + 16 * group + j, as: Int8.self)) }
                    activations.storeBytes(of: sum, toByteOffset: 260 + 2 * group, as: Int16.self)
                }
            }
            let (plain, expected): (Int32, Int32) = switch name {
            case "Q4_K": (Q4_K.scaledSumReference(weights, activations), Self.q4KSums(weights, activations).scaled)
            case "Q4_K minimums": (Q4_K.minimumSumReference(weights, activations), Self.q4KSums(weights, activations).minimums)
            case "Q5_K": (Q5_K.scaledSum(weights, activations), Self.q5KScaledSum(weights, activations))
            case "Q3_K": (Q3_K.scaledSum(weights, activations), Self.q3KScaledSum(weights, activations))
            case "Q6_K": (Q6_K.scaledSumReference(weights, activations), Self.q6KSum(weights, activations))
            default: (Q5_0.blockSumReference(weights, activations), Self.q5_0Sum(weights, activations))
            }
            if plain != expected {
                Issue.record("\(name) trial \(trial): plain loop \(plain), element by element \(expected)")
                return
            }
        }
    }
}
