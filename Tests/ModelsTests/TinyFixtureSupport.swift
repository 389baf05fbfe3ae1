import Foundation
import GGUF
import Models
import Testing

/// A committed tiny random-weight fixture (scripts/reference/make-*-fixture.py): its GGUF path.
func tinyFixturePath(_ fixture: String) throws -> String {
    try #require(Bundle.module.url(forResource: "Fixtures/\(fixture)", withExtension: "gguf")).path
}

/// Runs llama.cpp's token ids one at a time through `model` (one decode per token, as
/// dump_logits does) and returns the largest difference from llama.cpp's top-5 logits. Expects
/// the same top-1 at every position unless llama.cpp's own top two are within 0.05.
func worstDifference(_ model: TransformerModel, _ reference: ReferenceRun, capacity: Int) throws -> Double {
    let cache = try model.makeCache(capacity: capacity)
    var worst: Double = 0
    for (index, token) in reference.ids.enumerated() {
        let logits = try model.forward([token], cache: cache)
        worst = max(worst, try compare(logits, reference.positions[index], position: index))
    }
    return worst
}

/// The largest difference between `logits` and llama.cpp's top-5 at one position; records an
/// issue when the best token differs (and llama.cpp's top two are not a near tie).
func compare(_ logits: ArraySlice<Float>, _ expected: ReferencePosition, position: Int) throws -> Double {
    var worst: Double = 0
    for pair in expected.top {
        worst = max(worst, abs(Double(logits[logits.startIndex + Int(pair[0])]) - pair[1]))
    }
    let best = logits.indices.max { logits[$0] < logits[$1] }! - logits.startIndex
    #expect(best == Int(expected.top[0][0]) || expected.top[0][1] - expected.top[1][1] < 0.05,
            "position \(position): \(best) vs \(expected.top[0][0])")
    return worst
}

func compare(_ logits: [Float], _ expected: ReferencePosition, position: Int) throws -> Double {
    try compare(logits[...], expected, position: position)
}

/// A copy of a fixture's GGUF with keys set or removed and tensors dropped or added, written to
/// a temporary file (removed by the caller).
func rewrittenFixture(
    _ fixture: String, setting keys: [String: GGUFValue?] = [:], dropping dropped: Set<String> = [],
    adding added: [(name: String, type: GGUFTensorType, dimensions: [Int], data: [UInt8])] = []
) throws -> String {
    let original = try GGUFFile(path: try tinyFixturePath(fixture))
    var writer = GGUFWriter()
    for key in original.metadataKeys where keys[key] == nil { writer.add(key: key, original[key]!) }
    for (key, value) in keys { if let value { writer.add(key: key, value) } }
    for tensor in original.tensors where !dropped.contains(tensor.name) {
        writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions,
                   data: Array(original.data(for: tensor)))
    }
    for tensor in added { writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions, data: tensor.data) }
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(fixture)-\(UUID()).gguf").path
    try writer.write(to: path)
    return path
}
