import Foundation
import Kernels
import Testing

/// Dequantisation against gguf-py's reference implementation (fixtures written by
/// scripts/gen-kernel-fixtures.py).
@Suite struct FixtureTests {
    struct Manifest: Decodable {
        struct Format: Decodable {
            let name: String
            let ggmlType: UInt32
            let values: Int
            let bytes: Int
            let quantizedInputBytes: Int?
        }
        let formats: [Format]
    }

    static let manifest: Manifest = {
        do {
            return try JSONDecoder().decode(Manifest.self, from: fixture("manifest.json"))
        } catch {
            fatalError("cannot read Fixtures/manifest.json: \(error)")
        }
    }()

    @Test func fixturesCoverEveryWeightFormat() {
        let names = Set(Self.manifest.formats.map(\.name))
        #expect(names == Set(weightFormats.map { $0.name }))
    }

    @Test(arguments: FixtureTests.manifest.formats.map(\.name))
    func dequantizeMatchesGGUFPy(_ name: String) throws {
        let entry = try #require(Self.manifest.formats.first { $0.name == name })
        let format = try #require(blockFormat(ggmlType: entry.ggmlType))
        #expect(format.name == name)
        let blocks = [UInt8](try fixture("\(name).blocks"))
        let expected = floats(try fixture("\(name).expected"))
        #expect(blocks.count == entry.bytes)
        #expect(expected.count == entry.values)
        #expect(format.rowByteCount(columns: entry.values) == blocks.count)
        let actual = dequantized(blocks, as: format, count: entry.values)
        var mismatches = 0
        for i in 0..<expected.count where actual[i].bitPattern != expected[i].bitPattern {
            // Exact, except that a different float evaluation order may move the last bit.
            let tolerance = 1e-6 * abs(expected[i])
            if !(abs(actual[i] - expected[i]) <= tolerance) {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(name)[\(i)]: \(actual[i]) != \(expected[i])") }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func q8_0QuantizeIsByteIdenticalToGGUFPy() throws {
        let entry = try #require(Self.manifest.formats.first { $0.name == "Q8_0" })
        let input = floats(try fixture("Q8_0.input"))
        let blocks = [UInt8](try fixture("Q8_0.blocks"))
        let expected = Array(blocks.prefix(try #require(entry.quantizedInputBytes)))
        #expect(quantized(input, as: Q8_0.self) == expected)
    }

    @Test func typeIdsMapToFormats() {
        let ids: [(UInt32, String)] = [
            (0, "F32"), (1, "F16"), (2, "Q4_0"), (3, "Q4_1"), (6, "Q5_0"), (7, "Q5_1"), (8, "Q8_0"), (9, "Q8_1"),
            (10, "Q2_K"), (11, "Q3_K"), (12, "Q4_K"), (13, "Q5_K"), (14, "Q6_K"), (15, "Q8_K"), (30, "BF16"),
        ]
        for (id, name) in ids {
            #expect(blockFormat(ggmlType: id)?.name == name, "type \(id)")
            #expect(blockFormat(ggmlType: id)?.ggmlType == id)
        }
        #expect(blockFormat(ggmlType: 4) == nil)  // removed Q4_2
        #expect(blockFormat(ggmlType: 16) == nil)  // IQ2_XXS: not implemented
        #expect(quantFormat(ggmlType: 9) == nil)  // Q8_1: activation-only
        #expect(quantFormat(ggmlType: 15) == nil)  // Q8_K: activation-only
        #expect(quantFormat(ggmlType: 12)?.activationFormat.name == "Q8_K")
        #expect(quantFormat(ggmlType: 3)?.activationFormat.name == "Q8_1")
        #expect(quantFormat(ggmlType: 2)?.activationFormat.name == "Q8_0")
        #expect(quantFormat(ggmlType: 20)?.activationFormat.name == "Q8_0")  // IQ4_NL
        #expect(quantFormat(ggmlType: 23)?.activationFormat.name == "Q8_K")  // IQ4_XS
        #expect(quantFormat(ggmlType: 39)?.activationFormat.name == "Q8_0")  // MXFP4
        #expect(quantFormat(ggmlType: 1)?.activationFormat.name == "F32")
    }

    @Test func blockGeometryMatchesGGML() {
        let expected: [String: (Int, Int)] = [
            "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22),
            "Q5_1": (32, 24), "Q8_0": (32, 34), "Q8_1": (32, 36), "Q2_K": (256, 84), "Q3_K": (256, 110),
            "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210), "Q8_K": (256, 292),
            "IQ4_NL": (32, 18), "IQ4_XS": (256, 136), "MXFP4": (32, 17),
        ]
        #expect(allBlockFormats.count == expected.count)
        for format in allBlockFormats {
            let geometry = expected[format.name]
            #expect(geometry?.0 == format.blockSize && geometry?.1 == format.bytesPerBlock, "\(format.name)")
        }
        #expect(Q4_K.rowByteCount(columns: 512) == 288)
        #expect(Q4_K.rowByteCount(columns: 100) == nil)
        #expect(Q4_0.rowByteCount(columns: 0) == nil)
    }
}
