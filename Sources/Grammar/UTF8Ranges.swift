/// Turns ranges of Unicode scalars into sequences of byte ranges that match exactly their UTF-8
/// encodings, so the matcher can work on bytes and tokens may split a character anywhere.
enum UTF8Ranges {
    /// Byte-range sequences whose union is the UTF-8 encoding of `set`.
    static func sequences(for set: CodePointSet) -> [[ClosedRange<UInt8>]] {
        var output: [[ClosedRange<UInt8>]] = []
        for range in set.ranges { split(range.lowerBound, range.upperBound, into: &output) }
        return output
    }

    static func encode(_ scalar: UInt32) -> [UInt8] {
        switch scalar {
        case 0..<0x80: return [UInt8(scalar)]
        case 0x80..<0x800: return [UInt8(0xC0 | scalar >> 6), UInt8(0x80 | scalar & 0x3F)]
        case 0x800..<0x10000:
            return [UInt8(0xE0 | scalar >> 12), UInt8(0x80 | (scalar >> 6) & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        default:
            return [UInt8(0xF0 | scalar >> 18), UInt8(0x80 | (scalar >> 12) & 0x3F), UInt8(0x80 | (scalar >> 6) & 0x3F), UInt8(0x80 | scalar & 0x3F)]
        }
    }

    /// Splits [low, high] until both ends encode to the same length and every continuation
    /// position spans a full or aligned range; then the byte ranges are taken position-wise.
    /// Recursion depth is bounded by the few split points (a dozen at most).
    private static func split(_ low: UInt32, _ high: UInt32, into output: inout [[ClosedRange<UInt8>]]) {
        for boundary: UInt32 in [0x7F, 0x7FF, 0xFFFF] where low <= boundary && boundary < high {
            split(low, boundary, into: &output)
            split(boundary + 1, high, into: &output)
            return
        }
        if high <= 0x7F {
            output.append([UInt8(low)...UInt8(high)])
            return
        }
        let length = high <= 0x7FF ? 2 : high <= 0xFFFF ? 3 : 4
        for continuation in 1..<length {
            let mask: UInt32 = (1 << (6 * UInt32(continuation))) - 1
            if low & ~mask != high & ~mask {
                if low & mask != 0 {
                    split(low, low | mask, into: &output)
                    split((low | mask) + 1, high, into: &output)
                    return
                }
                if high & mask != mask {
                    split(low, (high & ~mask) - 1, into: &output)
                    split(high & ~mask, high, into: &output)
                    return
                }
            }
        }
        let lows = encode(low), highs = encode(high)
        output.append(zip(lows, highs).map { $0...$1 })
    }
}
