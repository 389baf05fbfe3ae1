import Foundation
import GGUF

/// What the cost model needs to know about a model: how many bytes it keeps and reads, and the
/// shape of its KV cache and scratch buffers.
public struct ModelShape: Sendable, Equatable, Codable {
    /// All parameters (mixture-of-experts: every expert).
    public var parameters: Double
    /// Parameters a decode step multiplies with: the embedding table is only looked up (one row)
    /// unless it doubles as the output matrix; of the experts only the routed ones count.
    public var activeParameters: Double
    /// Bytes of all tensors: what must sit in memory.
    public var weightBytes: Double
    /// Bytes a decode step reads from the weights (the `activeParameters`' share of the file).
    public var bytesPerToken: Double
    /// Bytes of the file besides the tensors (metadata, tokenizer), mapped and read at load.
    public var metadataBytes: Double
    /// Bytes only looked up a row at a time (an embedding table that is not also the output
    /// matrix): mapped, but only the pages of tokens actually seen become resident.
    public var lookupOnlyBytes: Double
    public var layers: Int
    public var embedding: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDimension: Int
    public var feedForward: Int
    public var vocabulary: Int
    /// BPE merge rules (`tokenizer.ggml.merges`): the tokenizer keeps a table of them.
    public var merges: Int
    /// The context the model was trained for: Hearth caps a session's context at it.
    public var trainedContext: Int?

    public init(parameters: Double, activeParameters: Double, weightBytes: Double, bytesPerToken: Double,
                metadataBytes: Double = 0, lookupOnlyBytes: Double = 0, layers: Int, embedding: Int, heads: Int, kvHeads: Int,
                headDimension: Int, feedForward: Int, vocabulary: Int, merges: Int = 0, trainedContext: Int? = nil) {
        self.parameters = parameters
        self.activeParameters = activeParameters
        self.weightBytes = weightBytes
        self.bytesPerToken = bytesPerToken
        self.metadataBytes = metadataBytes
        self.lookupOnlyBytes = lookupOnlyBytes
        self.layers = layers
        self.embedding = embedding
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.feedForward = feedForward
        self.vocabulary = vocabulary
        self.merges = merges
        self.trainedContext = trainedContext
    }

    /// Key and value elements one position adds to the cache, over all layers.
    public var kvElementsPerToken: Int { 2 * layers * kvHeads * headDimension }
}

/// Why a GGUF file's header does not describe a model the cost model can price.
public struct ModelShapeError: Error, CustomStringConvertible, Equatable {
    public let description: String
}

extension ModelShape {
    /// Reads the shape from a GGUF header and tensor table; no weight is touched.
    ///
    /// Keys are those the runtime reads (`{arch}.block_count`, `{arch}.attention.head_count_kv`,
    /// `{arch}.attention.key_length`, …); a missing or impossible one is an error naming it.
    public init(file: GGUFFile) throws(ModelShapeError) {
        guard let architecture = file["general.architecture"]?.asString else {
            throw ModelShapeError(description: "\(file.path): no general.architecture key")
        }
        func integer(_ suffix: String) -> Int? {
            let value = file["\(architecture).\(suffix)"]
            // Some architectures give a per-layer array (0 for layers without attention): take the largest.
            return value?.asInt ?? value?.asArray?.asInts?.max()
        }
        func required(_ suffix: String) throws(ModelShapeError) -> Int {
            guard let value = integer(suffix), value > 0 else {
                throw ModelShapeError(description: "\(file.path): missing or invalid \(architecture).\(suffix)")
            }
            return value
        }
        let embedding = try required("embedding_length")
        let layers = try required("block_count")
        let heads = try required("attention.head_count")
        let kvHeads = integer("attention.head_count_kv") ?? heads
        guard kvHeads > 0, kvHeads <= heads else {
            throw ModelShapeError(description: "\(file.path): \(architecture).attention.head_count_kv is \(kvHeads)")
        }
        let headDimension = integer("attention.key_length") ?? embedding / heads
        let feedForward = integer("feed_forward_length") ?? 4 * embedding
        let vocabulary = file["tokenizer.ggml.tokens"]?.asArray?.count ?? integer("vocab_size") ?? 0
        let experts = integer("expert_count") ?? 0
        let expertsUsed = integer("expert_used_count") ?? 0
        // Routed experts: a decode step reads `used / count` of every `*_exps` tensor.
        let expertShare = experts > 0 && expertsUsed > 0 ? Double(expertsUsed) / Double(experts) : 1
        let tied = file.tensor(named: "output.weight") == nil

        var parameters = 0.0, active = 0.0, bytes = 0.0, bytesRead = 0.0, lookupOnly = 0.0
        for tensor in file.tensors {
            let count = Double(tensor.elementCount)
            let size = Double(tensor.byteCount)
            parameters += count
            bytes += size
            var share = 1.0
            if tensor.name == "token_embd.weight" && !tied {
                share = 0
                lookupOnly = size
            }
            if tensor.name.contains("_exps") { share = expertShare }
            active += count * share
            bytesRead += size * share
        }
        self.init(parameters: parameters, activeParameters: active, weightBytes: bytes, bytesPerToken: bytesRead,
                  metadataBytes: Double(max(0, file.fileSize) - Int(bytes)), lookupOnlyBytes: lookupOnly,
                  layers: layers, embedding: embedding,
                  heads: heads, kvHeads: kvHeads, headDimension: headDimension, feedForward: feedForward,
                  vocabulary: vocabulary, merges: file["tokenizer.ggml.merges"]?.asArray?.count ?? 0,
                  trainedContext: integer("context_length"))
    }
}

/// The shape of a typical published model of a given size, for sizes no file is at hand for.
///
/// Layer counts and attention widths are those of Llama 3.x and Qwen 2.5 models (from their
/// `config.json` on Hugging Face); sizes in between take the nearest reference's attention and
/// interpolate the layer count in log(parameters).
public struct ReferenceShape: Sendable, Equatable {
    public let billions: Double
    public let layers: Int
    public let embedding: Int
    public let kvHeads: Int
    public let headDimension: Int
    public let vocabulary: Int
    public let source: String

    public static let table: [ReferenceShape] = [
        ReferenceShape(billions: 0.5, layers: 24, embedding: 896, kvHeads: 2, headDimension: 64, vocabulary: 151_936,
                       source: "Qwen2.5-0.5B config.json"),
        ReferenceShape(billions: 1.24, layers: 16, embedding: 2048, kvHeads: 8, headDimension: 64, vocabulary: 128_256,
                       source: "Llama-3.2-1B config.json"),
        ReferenceShape(billions: 3.21, layers: 28, embedding: 3072, kvHeads: 8, headDimension: 128, vocabulary: 128_256,
                       source: "Llama-3.2-3B config.json"),
        ReferenceShape(billions: 8.03, layers: 32, embedding: 4096, kvHeads: 8, headDimension: 128, vocabulary: 128_256,
                       source: "Llama-3.1-8B config.json"),
        ReferenceShape(billions: 14.8, layers: 48, embedding: 5120, kvHeads: 8, headDimension: 128, vocabulary: 152_064,
                       source: "Qwen2.5-14B config.json"),
        ReferenceShape(billions: 32.8, layers: 64, embedding: 5120, kvHeads: 8, headDimension: 128, vocabulary: 152_064,
                       source: "Qwen2.5-32B config.json"),
        ReferenceShape(billions: 70.6, layers: 80, embedding: 8192, kvHeads: 8, headDimension: 128, vocabulary: 128_256,
                       source: "Llama-3.1-70B config.json"),
        ReferenceShape(billions: 405.9, layers: 126, embedding: 16384, kvHeads: 8, headDimension: 128, vocabulary: 128_256,
                       source: "Llama-3.1-405B config.json"),
    ]

    /// Layers and attention width for a dense model of `billions` parameters.
    public static func interpolated(billions: Double) -> (layers: Int, embedding: Int, kvHeads: Int, headDimension: Int, vocabulary: Int) {
        let table = Self.table
        let size = max(billions, 0.01)
        guard let upperIndex = table.firstIndex(where: { $0.billions >= size }) else {
            let last = table[table.count - 1]
            let layers = Double(last.layers) * (1 + log2(size / last.billions) * 0.25)
            return (Int(layers.rounded()), last.embedding, last.kvHeads, last.headDimension, last.vocabulary)
        }
        let upper = table[upperIndex]
        guard upperIndex > 0 else {
            return (upper.layers, upper.embedding, upper.kvHeads, upper.headDimension, upper.vocabulary)
        }
        let lower = table[upperIndex - 1]
        let t = log(size / lower.billions) / log(upper.billions / lower.billions)
        let layers = Double(lower.layers) + t * Double(upper.layers - lower.layers)
        let nearest = t < 0.5 ? lower : upper
        return (Int(layers.rounded()), nearest.embedding, nearest.kvHeads, nearest.headDimension, nearest.vocabulary)
    }
}
