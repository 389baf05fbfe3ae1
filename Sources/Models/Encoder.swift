import Foundation
import GGUF
import Kernels

/// How an encoder turns its per-token hidden states into one vector (`{arch}.pooling_type`,
/// llama.cpp's `llama_pooling_type`).
public enum PoolingType: Int, Sendable, CaseIterable {
    case none = 0
    /// The mean over all tokens (all-MiniLM, nomic-embed-text).
    case mean = 1
    /// The first token's ([CLS]) state (bge).
    case cls = 2
    /// The last token's state.
    case last = 3
    /// A relevance score from a classification head (rerankers).
    case rank = 4
}

/// An encoder's shape, read from `{arch}.*` metadata.
public struct EncoderHyperparameters: Sendable, Equatable {
    public let architecture: String
    public let embeddingLength: Int
    public let layerCount: Int
    public let headCount: Int
    public let feedForwardLength: Int
    /// Positions it was trained for; inputs are at most this long.
    public let contextLength: Int
    public let layerNormEpsilon: Float
    /// `rank`: the file is a reranker's, and makes no embeddings (``EncoderModel/relevance(of:)``).
    public let pooling: PoolingType
    public let vocabularySize: Int
    /// Outputs of a classification head (`{arch}.classifier.output_labels`); the first is the score.
    public let classifierOutputCount: Int
    public var headDimension: Int { embeddingLength / headCount }

    init(file: GGUFFile, architecture: String) throws {
        let prefix = architecture + "."
        func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int {
            let key = prefix + name
            guard let value = file[key] else { throw ModelError.missingKey(key) }
            guard let int = value.asInt else { throw ModelError.invalidKey(key, "expected an integer, got \(value)") }
            guard range.contains(int) else { throw ModelError.invalidKey(key, "\(int) is outside \(range)") }
            return int
        }
        self.architecture = architecture
        embeddingLength = try integer("embedding_length", in: 1...65536)
        layerCount = try integer("block_count", in: 1...512)
        headCount = try integer("attention.head_count", in: 1...1024)
        feedForwardLength = try integer("feed_forward_length", in: 1...1 << 20)
        contextLength = try integer("context_length", in: 1...1 << 20)
        guard embeddingLength % headCount == 0 else {
            throw ModelError.invalidKey(prefix + "attention.head_count", "\(headCount) does not divide the embedding length \(embeddingLength)")
        }
        let epsilonKey = prefix + "attention.layer_norm_epsilon"
        guard let epsilon = file[epsilonKey] else { throw ModelError.missingKey(epsilonKey) }
        guard let value = epsilon.asFloat, value.isFinite, value >= 0 else {
            throw ModelError.invalidKey(epsilonKey, "expected a non-negative number, got \(epsilon)")
        }
        layerNormEpsilon = Float(value)
        if let causal = file[prefix + "attention.causal"], causal.asBool != false {
            throw ModelError.unsupported(prefix + "attention.causal", "\(causal) (only bidirectional encoders are supported)")
        }
        // llama.cpp's default for an encoder whose file names no pooling is none; an embedding
        // needs one, and BERT's sentence models mean-pool.
        if let value = file[prefix + "pooling_type"] {
            guard let raw = value.asInt, let pooling = PoolingType(rawValue: raw) else {
                throw ModelError.invalidKey(prefix + "pooling_type", "expected 0…4, got \(value)")
            }
            guard pooling != .none else {
                throw ModelError.unsupported(prefix + "pooling_type", "\(raw) (Hearth pools with mean, cls, last or rank)")
            }
            self.pooling = pooling
        } else {
            pooling = .mean
        }
        guard let tokens = file["tokenizer.ggml.tokens"]?.asArray else { throw ModelError.missingKey("tokenizer.ggml.tokens") }
        vocabularySize = tokens.count
        // A classification head has one output per label (llama.cpp's n_cls_out, default 1).
        let labelsKey = prefix + "classifier.output_labels"
        if let value = file[labelsKey] {
            guard let labels = value.asArray, (1...65536).contains(labels.count) else {
                throw ModelError.invalidKey(labelsKey, "expected a list of 1…65536 label names, got \(value)")
            }
            classifierOutputCount = labels.count
        } else {
            classifierOutputCount = 1
        }
    }
}

/// LayerNorm weights: a scale and a shift, each `embeddingLength` long.
struct LayerNormWeights: Sendable {
    let weight: [Float]
    let bias: [Float]

    init(_ binder: TensorBinder, _ name: String, length: Int) throws {
        weight = try binder.vector(name + ".weight", length: length)
        bias = try binder.vector(name + ".bias", length: length)
    }

    /// Normalises each of `rows` rows of `width` values in place.
    func apply(_ rows: UnsafeMutablePointer<Float>, count: Int, width: Int, epsilon: Float) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                for row in 0..<count {
                    let x = UnsafeMutableBufferPointer(start: rows + row * width, count: width)
                    layerNorm(UnsafeBufferPointer(x), weight: w, bias: b, epsilon: epsilon, into: x)
                }
            }
        }
    }
}

/// One encoder layer (post-norm: attention, add, norm, feed-forward, add, norm).
struct EncoderLayerWeights: Sendable {
    /// Q, K and V in one matrix of `3 × embedding` rows (nomic-bert), or separately (bert).
    let queryKeyValue: Linear?
    let query: Linear?
    let key: Linear?
    let value: Linear?
    let output: Linear
    let attentionOutputNorm: LayerNormWeights
    let up: Linear
    /// SwiGLU's gate (nomic-bert); nil means GELU on `up` (bert).
    let gate: Linear?
    let down: Linear
    let layerOutputNorm: LayerNormWeights
}

struct EncoderWeights: Sendable {
    let tokenEmbedding: Linear
    /// Absolute positions (bert), `contextLength` rows; nil with RoPE.
    let positionEmbedding: Linear?
    /// Token-type embeddings: llama.cpp adds row 0 ("sentence A") to every token.
    let tokenTypes: Linear?
    let embeddingNorm: LayerNormWeights
    let layers: [EncoderLayerWeights]
    /// A reranker's head (`cls`, `cls.output`); nil for an embedding model.
    var classifier: ClassificationHead? = nil
}

/// An encoder architecture: binds its weights; the shared forward pass is ``EncoderModel``'s.
protocol EncoderArchitecture {
    static var name: String { get }
    static func load(_ file: GGUFFile, threads: Int) throws -> EncoderModel
}

/// Encoder architectures Hearth can run, by `general.architecture`.
let encoderArchitectures: [any EncoderArchitecture.Type] = [Bert.self, NomicBert.self]

/// A bidirectional transformer encoder for sentence embeddings (BERT and its kin), bound to a
/// memory-mapped GGUF file. One pass over the whole input, no KV cache; forward passes of one
/// model run one at a time.
///
/// ```swift
/// let encoder = try EncoderModel.load(try GGUFFile(path: "all-minilm.gguf"), threads: 2)
/// let vector = try encoder.embedding(of: [101, 7592, 102])   // pooled, unit length
/// ```
public final class EncoderModel: @unchecked Sendable {
    public let hyperparameters: EncoderHyperparameters
    /// Keeps the mapping (and so every weight pointer) alive as long as the model.
    public let file: GGUFFile
    let weights: EncoderWeights
    /// Rotary position embedding (nomic-bert); nil with absolute positions.
    let rope: RotaryEmbedding?
    let pool: ThreadPool
    private let lock = NSLock()
    private let scratch: ScratchArena

    init(file: GGUFFile, hyperparameters: EncoderHyperparameters, weights: EncoderWeights, rope: RotaryEmbedding?, threads: Int) {
        self.file = file
        self.hyperparameters = hyperparameters
        self.weights = weights
        self.rope = rope
        self.pool = ThreadPool(threads: max(1, threads))
        self.scratch = ScratchArena(batchCapacity: 1)
    }

    /// Names of the architectures ``load(_:threads:)`` accepts.
    public static var supportedArchitectures: [String] { encoderArchitectures.map { $0.name } }

    /// Whether `file` holds an encoder architecture this type runs (its `general.architecture`).
    public static func isEncoder(_ file: GGUFFile) -> Bool {
        guard let name = file["general.architecture"]?.asString else { return false }
        return supportedArchitectures.contains(name)
    }

    /// Binds an encoder to `file`, choosing the architecture from `general.architecture`.
    public static func load(_ file: GGUFFile, threads: Int) throws -> EncoderModel {
        guard let value = file["general.architecture"] else { throw ModelError.missingKey("general.architecture") }
        guard let name = value.asString else {
            throw ModelError.invalidKey("general.architecture", "expected a string, got \(value)")
        }
        guard let architecture = encoderArchitectures.first(where: { $0.name == name }) else {
            throw ModelError.unsupportedArchitecture(name, supported: supportedArchitectures)
        }
        let model = try architecture.load(file, threads: threads)
        if model.hyperparameters.pooling == .rank && !model.ranks {
            throw ModelError.unsupported(name + ".pooling_type", "4 (rank) without a classification head: the file has neither cls.weight nor cls.output.weight")
        }
        return model
    }

    /// Whether the model has a classification head, so it scores query–document pairs.
    public var ranks: Bool { weights.classifier != nil }

    /// Whether `file` holds a reranker's classification head, without loading it.
    public static func hasClassificationHead(_ file: GGUFFile) -> Bool { ClassificationHead.isPresent(in: file) }

    /// The relevance score of an input that pairs a query with a document (a reranker's):
    /// the first token's final state through the classification head, its first output (what
    /// llama-server's `/v1/rerank` returns, no sigmoid).
    public func relevance(of tokens: [Int32]) throws -> Float {
        try relevances(of: [tokens])[0]
    }

    /// The relevance scores of several pairs, computed together (see ``embeddings(of:)``).
    public func relevances(of inputs: [[Int32]]) throws -> [Float] {
        guard let head = weights.classifier else {
            throw ModelError.unsupported("cls.output.weight", "(missing): the model has no classification head, so it embeds and does not rank")
        }
        let width = hyperparameters.embeddingLength
        return try encode(inputs) { hidden, _ in
            // The input's first token: a slice keeps the whole pass's indices.
            head.scores(of: Array(hidden[hidden.startIndex..<hidden.startIndex + width]), scratch: scratch, pool: pool)[0]
        }
    }

    /// The input's sentence embedding: the hidden states pooled as the model says, scaled to unit
    /// length (what llama.cpp's `llama-embedding --embd-normalize 2` and Ollama return).
    public func embedding(of tokens: [Int32]) throws -> [Float] {
        try embeddings(of: [tokens])[0]
    }

    /// The embeddings of several inputs. Inputs are packed into passes of up to
    /// ``passTokens`` tokens, each attending only to its own tokens (as llama.cpp batches
    /// sequences), so the matrix products run over many rows at once.
    public func embeddings(of inputs: [[Int32]]) throws -> [[Float]] {
        guard hyperparameters.pooling != .rank else {
            throw ModelError.unsupported(hyperparameters.architecture + ".pooling_type", "4 (rank: a reranker scores query–document pairs and makes no embeddings)")
        }
        return try encode(inputs) { hidden, count in pooled(hidden, count: count) }
    }

    /// Tokens per packed pass (an input longer than this runs alone).
    public static let passTokens = 2048

    /// Checks every input, runs them in packed passes and hands each one's final states
    /// (`count × embeddingLength`) to `finish`, in input order.
    private func encode<Output>(_ inputs: [[Int32]], finish: (ArraySlice<Float>, Int) -> Output) throws -> [Output] {
        let hp = hyperparameters
        for tokens in inputs {
            guard !tokens.isEmpty else { throw ModelError.invalidKey("input", "no tokens to encode") }
            for token in tokens where token < 0 || Int(token) >= hp.vocabularySize {
                throw ModelError.invalidToken(token, vocabularySize: hp.vocabularySize)
            }
            guard tokens.count <= hp.contextLength else {
                throw ModelError.contextFull(needed: tokens.count, capacity: hp.contextLength)
            }
        }
        lock.lock()
        defer { lock.unlock() }
        var outputs: [Output] = []
        outputs.reserveCapacity(inputs.count)
        var next = 0
        while next < inputs.count {
            var end = next + 1, total = inputs[next].count
            while end < inputs.count && total + inputs[end].count <= Self.passTokens {
                total += inputs[end].count
                end += 1
            }
            let pass = Array(inputs[next..<end])
            let hidden = forward(pass)
            var offset = 0
            for tokens in pass {
                let rows = hidden[offset * hp.embeddingLength..<(offset + tokens.count) * hp.embeddingLength]
                outputs.append(finish(rows, tokens.count))
                offset += tokens.count
            }
            next = end
        }
        return outputs
    }

    /// One input's states pooled as the model says, scaled to unit length.
    private func pooled(_ hidden: ArraySlice<Float>, count: Int) -> [Float] {
        let width = hyperparameters.embeddingLength
        let base = hidden.startIndex
        var pooled = [Float](repeating: 0, count: width)
        switch hyperparameters.pooling {
        case .cls:
            pooled = Array(hidden[base..<base + width])
        case .last:
            pooled = Array(hidden[base + (count - 1) * width..<base + count * width])
        case .mean, .none, .rank:
            for row in 0..<count {
                for i in 0..<width { pooled[i] += hidden[base + row * width + i] }
            }
            let scale = 1 / Float(count)
            for i in 0..<width { pooled[i] *= scale }
        }
        // llama.cpp's common_embd_normalize: a Float sum of squares, its root in Double.
        var squares: Double = 0
        for value in pooled { squares += Double(value * value) }
        let norm = squares.squareRoot()
        if norm > 0 {
            let inverse = Float(1 / norm)
            for i in 0..<width { pooled[i] *= inverse }
        }
        return pooled
    }

    /// The final hidden state of every token, `tokens.count × embeddingLength` row-major.
    public func hiddenStates(_ tokens: [Int32]) throws -> [Float] {
        try encode([tokens]) { hidden, _ in Array(hidden) }[0]
    }

    /// The final states of `sequences` packed one after another; each token attends to its own
    /// sequence only, and its position counts from its sequence's start.
    private func forward(_ sequences: [[Int32]]) -> [Float] {
        let hp = hyperparameters
        let count = sequences.reduce(0) { $0 + $1.count }, width = hp.embeddingLength
        var segments: [Range<Int>] = []
        var hidden = [Float](repeating: 0, count: count * width)
        var row = [Float](repeating: 0, count: width)
        hidden.withUnsafeMutableBufferPointer { h in
            row.withUnsafeMutableBufferPointer { r in
                var index = 0
                for tokens in sequences {
                    segments.append(index..<index + tokens.count)
                    for (position, token) in tokens.enumerated() {
                        let x = h.baseAddress! + index * width
                        weights.tokenEmbedding.dequantizeRow(Int(token), into: x)
                        if let types = weights.tokenTypes {
                            types.dequantizeRow(0, into: r.baseAddress!)
                            for i in 0..<width { x[i] += r[i] }
                        }
                        if let positions = weights.positionEmbedding {
                            positions.dequantizeRow(position, into: r.baseAddress!)
                            for i in 0..<width { x[i] = r[i] + x[i] }
                        }
                        index += 1
                    }
                }
            }
            weights.embeddingNorm.apply(h.baseAddress!, count: count, width: width, epsilon: hp.layerNormEpsilon)
        }
        let buffers = EncoderBuffers(tokens: count, width: width, feedForward: hp.feedForwardLength)
        for layer in weights.layers {
            encoderLayer(layer, hidden: &hidden, buffers: buffers, segments: segments)
        }
        return hidden
    }

    /// Attention over all tokens, add, norm; feed-forward, add, norm (llama.cpp's bert graph).
    private func encoderLayer(_ layer: EncoderLayerWeights, hidden: inout [Float], buffers: EncoderBuffers, segments: [Range<Int>]) {
        let hp = hyperparameters
        let count = segments.last?.upperBound ?? 0
        let width = hp.embeddingLength, heads = hp.headCount, headDimension = hp.headDimension
        let epsilon = hp.layerNormEpsilon
        let pool = pool, scratch = scratch, rope = rope
        hidden.withUnsafeMutableBufferPointer { h in
            let x = h.baseAddress!
            buffers.query.withUnsafeMutableBufferPointer { q in
            buffers.key.withUnsafeMutableBufferPointer { k in
            buffers.value.withUnsafeMutableBufferPointer { v in
            buffers.attention.withUnsafeMutableBufferPointer { a in
            buffers.projected.withUnsafeMutableBufferPointer { o in
                if let fused = layer.queryKeyValue {
                    buffers.fused.withUnsafeMutableBufferPointer { f in
                        fused.apply(x, batch: count, into: f.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                        for t in 0..<count {
                            let source = f.baseAddress! + t * 3 * width
                            (q.baseAddress! + t * width).update(from: source, count: width)
                            (k.baseAddress! + t * width).update(from: source + width, count: width)
                            (v.baseAddress! + t * width).update(from: source + 2 * width, count: width)
                        }
                    }
                } else if let query = layer.query, let key = layer.key, let value = layer.value {
                    query.apply(x, batch: count, into: q.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                    key.apply(x, batch: count, into: k.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                    value.apply(x, batch: count, into: v.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                }
                if let rope {
                    for segment in segments {
                        for t in segment {
                            rope.apply(to: UnsafeMutableBufferPointer(start: q.baseAddress! + t * width, count: width),
                                       headCount: heads, headDimension: headDimension, position: t - segment.lowerBound)
                            rope.apply(to: UnsafeMutableBufferPointer(start: k.baseAddress! + t * width, count: width),
                                       headCount: heads, headDimension: headDimension, position: t - segment.lowerBound)
                        }
                    }
                }
                bidirectionalAttention(
                    query: q.baseAddress!, key: k.baseAddress!, value: v.baseAddress!, into: a.baseAddress!,
                    segments: segments, heads: heads, headDimension: headDimension, pool: pool)
                layer.output.apply(a.baseAddress!, batch: count, into: o.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                // Re-add the layer input, then the attention-output norm.
                for i in 0..<(count * width) { o[i] += x[i] }
                layer.attentionOutputNorm.apply(o.baseAddress!, count: count, width: width, epsilon: epsilon)

                buffers.up.withUnsafeMutableBufferPointer { u in
                    let feedForward = hp.feedForwardLength
                    layer.up.apply(o.baseAddress!, batch: count, into: u.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                    if let gate = layer.gate {
                        buffers.gate.withUnsafeMutableBufferPointer { g in
                            gate.apply(o.baseAddress!, batch: count, into: g.baseAddress!, scratch: scratch, pool: pool, order: .llamaCpp)
                            let total = count * feedForward
                            swiglu(gate: UnsafeBufferPointer(start: g.baseAddress!, count: total),
                                   up: UnsafeBufferPointer(start: u.baseAddress!, count: total),
                                   into: UnsafeMutableBufferPointer(start: u.baseAddress!, count: total))
                        }
                    } else {
                        GeluHalfTable.gelu(UnsafeMutableBufferPointer(start: u.baseAddress!, count: count * feedForward))
                    }
                    layer.down.apply(u.baseAddress!, batch: count, into: x, scratch: scratch, pool: pool, order: .llamaCpp)
                }
                // The attention block's output bypasses the feed-forward; then the output norm.
                for i in 0..<(count * width) { x[i] += o[i] }
                layer.layerOutputNorm.apply(x, count: count, width: width, epsilon: epsilon)
            }
            }
            }
            }
            }
        }
    }
}

/// Per-pass activations, sized for the input (a class: the layer reads several at once).
final class EncoderBuffers {
    var query, key, value, attention, projected, fused, up, gate: [Float]

    init(tokens: Int, width: Int, feedForward: Int) {
        query = [Float](repeating: 0, count: tokens * width)
        key = query
        value = query
        attention = query
        projected = query
        fused = [Float](repeating: 0, count: tokens * 3 * width)
        up = [Float](repeating: 0, count: tokens * feedForward)
        gate = up
    }
}

/// softmax(Q Kᵀ / √d) V for every head, every token attending to every token of its own
/// segment (the packed sequences: `segments` cover the tokens in order, without gaps).
func bidirectionalAttention(
    query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>,
    into output: UnsafeMutablePointer<Float>, segments: [Range<Int>], heads: Int, headDimension: Int, pool: ThreadPool
) {
    let width = heads * headDimension
    let tokens = segments.last?.upperBound ?? 0
    let scale = 1 / Float(headDimension).squareRoot()
    var segmentOfToken = [Range<Int>]()
    segmentOfToken.reserveCapacity(tokens)
    for segment in segments { for _ in segment { segmentOfToken.append(segment) } }
    let longest = segments.map(\.count).max() ?? 0
    segmentOfToken.withUnsafeBufferPointer { segmentOf in
    pool.parallelFor(heads * tokens) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: longest) { allScores in
            for item in range {
                let head = item / tokens, t = item % tokens
                let segment = segmentOf[t]
                let scores = UnsafeMutableBufferPointer(rebasing: allScores[0..<segment.count])
                let q = query + t * width + head * headDimension
                for (slot, s) in segment.enumerated() {
                    let k = key + s * width + head * headDimension
                    var dot: Float = 0
                    for d in 0..<headDimension { dot += q[d] * k[d] }
                    scores[slot] = dot * scale
                }
                softmax(scores)
                let out = output + t * width + head * headDimension
                for d in 0..<headDimension { out[d] = 0 }
                for (slot, s) in segment.enumerated() {
                    let weight = scores[slot]
                    let v = value + s * width + head * headDimension
                    for d in 0..<headDimension { out[d] += weight * v[d] }
                }
            }
        }
    }
    }
}
