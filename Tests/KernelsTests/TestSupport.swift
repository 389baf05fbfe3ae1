import Foundation
import Kernels

/// A small deterministic generator (SplitMix64), so random tests fail reproducibly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte offsets of the binary16 scale fields in one block of each weight format: random blocks
/// get sane (finite, modest) values there, so dot products stay finite.
let halfScaleOffsets: [String: [Int]] = [
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
    "IQ4_NL": [0], "IQ4_XS": [0], "MXFP4": [],
]

/// Every weight format, by name.
let weightFormats: [any QuantFormat.Type] = allBlockFormats.compactMap { $0 as? any QuantFormat.Type }

/// `rows` rows of `columns` random weights in `format`: random bytes with sane scales for the
/// quantised formats, random values in -1...1 for the float formats.
func randomWeights(_ format: any QuantFormat.Type, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    let rowBytes = format.rowByteCount(columns: columns)!
    var bytes = (0..<rows * rowBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
    let blocks = bytes.count / format.bytesPerBlock
    bytes.withUnsafeMutableBytes { raw in
        for block in 0..<blocks {
            let base = block * format.bytesPerBlock
            switch format.name {
            case "F32":
                raw.storeBytes(of: Float.random(in: -1...1, using: &rng), toByteOffset: base, as: Float.self)
            case "F16":
                raw.storeBytes(of: floatToHalf(Float.random(in: -1...1, using: &rng)), toByteOffset: base, as: UInt16.self)
            case "BF16":
                raw.storeBytes(of: floatToBFloat16(Float.random(in: -1...1, using: &rng)), toByteOffset: base, as: UInt16.self)
            case "MXFP4":
                // An E8M0 scale of 2^-12 ... 2^-4, the range of real weights' block scales.
                raw[base] = UInt8.random(in: 115...123, using: &rng)
            default:
                for offset in halfScaleOffsets[format.name]! {
                    let magnitude = Float.random(in: 0.0005...0.02, using: &rng)
                    let value = Bool.random(using: &rng) ? magnitude : -magnitude
                    raw.storeBytes(of: floatToHalf(value), toByteOffset: base + offset, as: UInt16.self)
                }
            }
        }
    }
    return bytes
}

/// Random floats with a spread of magnitudes (normal-ish values times 10^-2 ... 10^1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { _ in
        let u = Float.random(in: -1...1, using: &rng) + Float.random(in: -1...1, using: &rng)
        return u * Float.random(in: 0.01...10, using: &rng)
    }
}

/// Quantises `x` (one row) to `format` and returns the bytes.
func quantized(_ x: [Float], as format: any ActivationFormat.Type) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: format.rowByteCount(columns: x.count)!)
    x.withUnsafeBufferPointer { source in
        bytes.withUnsafeMutableBytes { format.quantize(row: source.baseAddress!, count: x.count, into: $0.baseAddress!) }
    }
    return bytes
}

/// Dequantises `bytes` holding `count` values of `format`.
func dequantized(_ bytes: [UInt8], as format: any BlockFormat.Type, count: Int) -> [Float] {
    var values = [Float](repeating: .nan, count: count)
    bytes.withUnsafeBytes { raw in
        values.withUnsafeMutableBufferPointer { format.dequantize(row: raw.baseAddress!, count: count, into: $0.baseAddress!) }
    }
    return values
}

/// Reads a fixture file from the test bundle's Fixtures directory.
func fixture(_ name: String) throws -> Data {
    guard let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw FixtureError.missing("Fixtures directory")
    }
    return try Data(contentsOf: directory.appendingPathComponent(name))
}

enum FixtureError: Error { case missing(String) }

/// Little-endian float32 values of `data`.
func floats(_ data: Data) -> [Float] {
    data.withUnsafeBytes { raw in
        (0..<data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
}
