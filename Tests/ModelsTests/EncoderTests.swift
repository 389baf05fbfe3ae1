import Foundation
import GGUF
import Models
import Testing

/// The encoder forward pass against llama.cpp on tiny random-weight models
/// (scripts/reference/make-encoder-fixture.py): nomic-bert (fused QKV, NeoX RoPE, SwiGLU, mean
/// pooling, f16 matrices) and BERT (absolute positions, biases, GELU, CLS pooling, q8_0 matrices).
@Suite struct EncoderTests {
    static func fixture(_ name: String) throws -> (path: String, sentences: [(tokens: [Int32], embedding: [Float])]) {
        let path = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "gguf")).path
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name).embeddings", withExtension: "json"))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let sentences = try #require(object?["sentences"] as? [[String: Any]])
        return (path, try sentences.map { entry in
            let tokens = try #require(entry["tokens"] as? [Int])
            let embedding = try #require(entry["embedding"] as? [Double])
            return (tokens.map(Int32.init), embedding.map(Float.init))
        })
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            aa += Double(x) * Double(x)
            bb += Double(y) * Double(y)
        }
        return dot / (aa.squareRoot() * bb.squareRoot())
    }

    @Test(arguments: [("tiny-nomic-bert", "nomic-bert", PoolingType.mean), ("tiny-bert-cls", "bert", PoolingType.cls)])
    func embeddingsMatchLlamaCpp(fixture name: String, architecture: String, pooling: PoolingType) throws {
        let fixture = try Self.fixture(name)
        let file = try GGUFFile(path: fixture.path)
        #expect(EncoderModel.isEncoder(file))
        let model = try EncoderModel.load(file, threads: 2)
        #expect(model.hyperparameters.architecture == architecture && model.hyperparameters.pooling == pooling)
        #expect(fixture.sentences.count == 6)
        var worstCosine = 1.0, worstDifference: Float = 0
        for sentence in fixture.sentences {
            let vector = try model.embedding(of: sentence.tokens)
            #expect(vector.count == 64)
            worstCosine = min(worstCosine, Self.cosine(vector, sentence.embedding))
            worstDifference = max(worstDifference, zip(vector, sentence.embedding).map { abs($0 - $1) }.max() ?? .infinity)
        }
        print("\(name): worst cosine \(worstCosine), worst element difference \(worstDifference)")
        #expect(worstCosine >= 0.9999)
        #expect(worstDifference < 5e-3)
    }

    /// Inputs packed into one pass (each attending to its own tokens, positions from its own
    /// start) give what each gives alone, and llama.cpp's vectors.
    @Test(arguments: ["tiny-nomic-bert", "tiny-bert-cls"])
    func packedInputsEmbedAsEachAlone(fixture name: String) throws {
        let fixture = try Self.fixture(name)
        let model = try EncoderModel.load(try GGUFFile(path: fixture.path), threads: 2)
        let inputs = fixture.sentences.map(\.tokens)
        #expect(Set(inputs.map(\.count)).count > 1, "the sentences should differ in length")
        let packed = try model.embeddings(of: inputs)
        #expect(packed.count == inputs.count)
        for (index, tokens) in inputs.enumerated() {
            let alone = try model.embedding(of: tokens)
            let difference = zip(packed[index], alone).map { abs($0 - $1) }.max() ?? .infinity
            #expect(difference < 1e-5, "input \(index): packed differs from alone by \(difference)")
            #expect(Self.cosine(packed[index], fixture.sentences[index].embedding) >= 0.9999)
        }
        // Past one pass's budget, inputs go in several passes, in order.
        let long = Array(repeating: inputs, count: EncoderModel.passTokens / inputs.joined().count + 2).flatMap { $0 }
        let many = try model.embeddings(of: long)
        #expect(many.count == long.count)
        for (index, vector) in many.enumerated() {
            #expect(zip(vector, packed[index % inputs.count]).allSatisfy { abs($0 - $1) < 1e-5 }, "input \(index)")
        }
        #expect(throws: ModelError.self) { try model.embeddings(of: [inputs[0], []]) }
    }

    @Test func refusesBadInputsWithoutRunning() throws {
        let model = try EncoderModel.load(try GGUFFile(path: try Self.fixture("tiny-nomic-bert").path), threads: 1)
        #expect(throws: ModelError.invalidToken(86, vocabularySize: 86)) { try model.embedding(of: [2, 86, 3]) }
        #expect(throws: ModelError.invalidToken(-1, vocabularySize: 86)) { try model.embedding(of: [-1]) }
        #expect(throws: ModelError.contextFull(needed: 129, capacity: 128)) {
            try model.embedding(of: [Int32](repeating: 5, count: 129))
        }
        #expect(throws: (any Error).self) { try model.embedding(of: []) }
        // A chat model is not an encoder, and the encoder loader says which architectures it runs.
        let qwen = try GGUFFile(path: try #require(Bundle.module.url(forResource: "Fixtures/tiny-qwen3", withExtension: "gguf")).path)
        #expect(!EncoderModel.isEncoder(qwen))
        #expect(throws: ModelError.unsupportedArchitecture("qwen3", supported: ["bert", "nomic-bert"])) {
            try EncoderModel.load(qwen, threads: 1)
        }
    }

    /// Files that would make the pass read past a tensor, or pool in a way Hearth does not, are
    /// refused at load, naming the key or tensor.
    @Test func refusesBrokenFilesNamingTheProblem() throws {
        let original = try GGUFFile(path: try Self.fixture("tiny-bert-cls").path)
        func rewritten(metadata change: [String: GGUFValue?] = [:], dropping dropped: String? = nil) throws -> GGUFFile {
            var writer = GGUFWriter()
            for key in original.metadataKeys where change[key] == nil { writer.add(key: key, original[key]!) }
            for (key, value) in change { if let value { writer.add(key: key, value) } }
            for tensor in original.tensors where tensor.name != dropped {
                writer.add(tensor: tensor.name, type: tensor.type, dimensions: tensor.dimensions, data: Array(original.data(for: tensor)))
            }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("broken-bert-\(UUID()).gguf").path
            try writer.write(to: path)
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try GGUFFile(path: path)
        }
        #expect(throws: ModelError.missingTensor("blk.1.ffn_up.weight")) {
            try EncoderModel.load(try rewritten(dropping: "blk.1.ffn_up.weight"), threads: 1)
        }
        // Rank pooling needs a reranker's classification head, which this embedding model lacks.
        #expect(throws: ModelError.unsupported("bert.pooling_type", "4 (rank) without a classification head: the file has neither cls.weight nor cls.output.weight")) {
            try EncoderModel.load(try rewritten(metadata: ["bert.pooling_type": .uint32(4)]), threads: 1)
        }
        #expect(throws: ModelError.unsupported("bert.pooling_type", "0 (Hearth pools with mean, cls, last or rank)")) {
            try EncoderModel.load(try rewritten(metadata: ["bert.pooling_type": .uint32(0)]), threads: 1)
        }
        #expect(throws: ModelError.unsupported("bert.attention.causal", "true (only bidirectional encoders are supported)")) {
            try EncoderModel.load(try rewritten(metadata: ["bert.attention.causal": .bool(true)]), threads: 1)
        }
        // More positions claimed than position_embd holds.
        #expect(throws: ModelError.tensorShape("position_embd.weight", expected: [64, 1000], found: [64, 64])) {
            try EncoderModel.load(try rewritten(metadata: ["bert.context_length": .uint32(1000)]), threads: 1)
        }
    }
}
