import GGUF

/// How RoPE pairs up the dimensions of a head.
public enum RopeStyle: Sendable, Equatable {
    /// Adjacent pairs (x[2i], x[2i+1]) — llama.
    case normal
    /// Halves (x[i], x[i + n/2]) — GPT-NeoX, qwen2, qwen3, gemma3.
    case neox
}

/// The shape of a transformer, read from `{arch}.*` metadata with every value checked.
///
/// Fields follow llama.cpp's `llama_hparams`; an absent optional key takes llama.cpp's default,
/// an absent required key or an impossible value is a ``ModelError`` naming the key.
public struct Hyperparameters: Sendable, Equatable {
    public var architecture: String
    public var embeddingLength: Int
    public var blockCount: Int
    public var headCount: Int
    public var headCountKV: Int
    /// Dimensions per head for queries and keys (`attention.key_length`, default embedding / heads).
    public var headDimension: Int
    /// Dimensions per head for values (`attention.value_length`).
    public var valueDimension: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    public var vocabularySize: Int
    public var rmsEpsilon: Float
    public var ropeStyle: RopeStyle
    public var ropeDimensions: Int
    public var ropeFrequencyBase: Float
    /// 1 / `rope.scaling.factor` for linear scaling; 1 when absent.
    public var ropeFrequencyScale: Float
    /// `rope.scaling.attn_factor` (1 when absent): multiplies RoPE's cosines and sines, so the
    /// rotated part of every query and key (phi3's LongRoPE writes √(1 + ln s / ln n_orig)).
    public var ropeAttentionFactor: Float
    /// `rope.scaling.type` is yarn: angles mix interpolation and extrapolation by frequency, over
    /// `ropeOriginalContextLength` (see `RotaryEmbedding.YaRN`).
    public var ropeUsesYaRN: Bool
    /// `rope.scaling.original_context_length` (the context length when absent): contexts longer
    /// than this use the long RoPE frequency factors where a model has two sets (phi3).
    public var ropeOriginalContextLength: Int
    /// Sliding-window attention span in tokens, when the architecture has local layers.
    public var slidingWindow: Int?
    /// Which layers use the sliding window (all false without one).
    public var slidingLayers: [Bool]
    /// RoPE base used by the sliding-window layers.
    public var ropeFrequencyBaseSliding: Float
    /// Experts of each mixture-of-experts feed-forward (`expert_count`), 0 for a dense model.
    public var expertCount: Int
    /// Experts each token is routed to (`expert_used_count`), 0 for a dense model.
    public var expertsUsed: Int
    /// Hidden width of one expert (`expert_feed_forward_length`; llama.cpp's default when absent
    /// is feed_forward_length / expert_used_count).
    public var expertFeedForwardLength: Int
    /// RoPE frequency scale of the sliding-window layers: 1 (gemma3), or the global one (gemma2).
    public var ropeFrequencyScaleSliding: Float

    /// Query dimensions of all heads together.
    public var queryLength: Int { headCount * headDimension }
    /// Key (and value) dimensions of all KV heads together.
    public var keyLength: Int { headCountKV * headDimension }
    public var valueLength: Int { headCountKV * valueDimension }

    /// Reads the common keys; architectures then adjust what is theirs.
    init(file: GGUFFile, architecture: String, ropeStyle: RopeStyle) throws {
        let prefix = architecture + "."
        func required(_ name: String) throws -> Int {
            let key = prefix + name
            guard let value = file[key] else { throw ModelError.missingKey(key) }
            guard let int = value.asInt else { throw ModelError.invalidKey(key, "expected an integer, got \(value)") }
            return int
        }
        func optionalInt(_ name: String) throws -> Int? {
            let key = prefix + name
            guard let value = file[key] else { return nil }
            guard let int = value.asInt else { throw ModelError.invalidKey(key, "expected an integer, got \(value)") }
            return int
        }
        func optionalFloat(_ name: String) throws -> Float? {
            let key = prefix + name
            guard let value = file[key] else { return nil }
            guard let double = value.asFloat, double.isFinite else {
                throw ModelError.invalidKey(key, "expected a finite number, got \(value)")
            }
            return Float(double)
        }

        self.architecture = architecture
        embeddingLength = try required("embedding_length")
        blockCount = try required("block_count")
        feedForwardLength = try required("feed_forward_length")
        contextLength = try required("context_length")
        headCount = try required("attention.head_count")
        headCountKV = try optionalInt("attention.head_count_kv") ?? headCount
        try Self.check(prefix + "embedding_length", embeddingLength, in: 1...65536)
        try Self.check(prefix + "block_count", blockCount, in: 1...512)
        try Self.check(prefix + "feed_forward_length", feedForwardLength, in: 1...1_048_576)
        try Self.check(prefix + "context_length", contextLength, in: 1...16_777_216)
        try Self.check(prefix + "attention.head_count", headCount, in: 1...1024)
        try Self.check(prefix + "attention.head_count_kv", headCountKV, in: 1...headCount)
        guard headCount % headCountKV == 0 else {
            throw ModelError.invalidKey(
                prefix + "attention.head_count_kv",
                "\(headCountKV) does not divide attention.head_count \(headCount)")
        }
        headDimension = try optionalInt("attention.key_length") ?? embeddingLength / headCount
        valueDimension = try optionalInt("attention.value_length") ?? headDimension
        try Self.check(prefix + "attention.key_length", headDimension, in: 1...4096)
        try Self.check(prefix + "attention.value_length", valueDimension, in: 1...4096)
        guard valueDimension == headDimension else {
            throw ModelError.invalidKey(
                prefix + "attention.value_length",
                "\(valueDimension) differs from attention.key_length \(headDimension), which is not supported")
        }

        guard let epsilon = try optionalFloat("attention.layer_norm_rms_epsilon") else {
            throw ModelError.missingKey(prefix + "attention.layer_norm_rms_epsilon")
        }
        guard epsilon > 0, epsilon < 1 else {
            throw ModelError.invalidKey(prefix + "attention.layer_norm_rms_epsilon", "must be in (0, 1), got \(epsilon)")
        }
        rmsEpsilon = epsilon

        self.ropeStyle = ropeStyle
        ropeDimensions = try optionalInt("rope.dimension_count") ?? headDimension
        guard ropeDimensions > 0, ropeDimensions <= headDimension, ropeDimensions % 2 == 0 else {
            throw ModelError.invalidKey(
                prefix + "rope.dimension_count",
                "must be even and in 2...\(headDimension), got \(ropeDimensions)")
        }
        ropeFrequencyBase = try optionalFloat("rope.freq_base") ?? 10000
        guard ropeFrequencyBase > 0 else {
            throw ModelError.invalidKey(prefix + "rope.freq_base", "must be > 0, got \(ropeFrequencyBase)")
        }
        let scalingType = file[prefix + "rope.scaling.type"]?.asString ?? "linear"
        guard ["none", "linear", "yarn"].contains(scalingType) else {
            throw ModelError.unsupported(prefix + "rope.scaling.type", "'\(scalingType)' (supported: none, linear, yarn)")
        }
        ropeUsesYaRN = scalingType == "yarn"
        let factor = try optionalFloat("rope.scaling.factor") ?? optionalFloat("rope.scale_linear") ?? 0
        guard factor >= 0 else {
            throw ModelError.invalidKey(prefix + "rope.scaling.factor", "must be ≥ 0, got \(factor)")
        }
        // llama.cpp never scales when the type is none, whatever the factor.
        ropeFrequencyScale = factor == 0 || scalingType == "none" ? 1 : 1 / factor
        ropeAttentionFactor = try optionalFloat("rope.scaling.attn_factor") ?? 1
        guard ropeAttentionFactor > 0 else {
            throw ModelError.invalidKey(prefix + "rope.scaling.attn_factor", "must be > 0, got \(ropeAttentionFactor)")
        }
        ropeOriginalContextLength = try optionalInt("rope.scaling.original_context_length") ?? contextLength
        try Self.check(prefix + "rope.scaling.original_context_length", ropeOriginalContextLength, in: 1...16_777_216)

        slidingWindow = nil
        slidingLayers = Array(repeating: false, count: blockCount)
        ropeFrequencyBaseSliding = 10000
        ropeFrequencyScaleSliding = 1

        expertCount = try optionalInt("expert_count") ?? 0
        expertsUsed = try optionalInt("expert_used_count") ?? 0
        try Self.check(prefix + "expert_count", expertCount, in: 0...4096)
        try Self.check(prefix + "expert_used_count", expertsUsed, in: 0...expertCount)
        if expertCount > 0, expertsUsed == 0 {
            throw ModelError.invalidKey(prefix + "expert_used_count", "must be ≥ 1 when expert_count is \(expertCount)")
        }
        expertFeedForwardLength = try optionalInt("expert_feed_forward_length")
            ?? (expertsUsed > 0 ? feedForwardLength / expertsUsed : 0)
        if expertCount > 0 { try Self.check(prefix + "expert_feed_forward_length", expertFeedForwardLength, in: 1...1_048_576) }

        guard let tokens = file["tokenizer.ggml.tokens"]?.asArray else {
            throw ModelError.missingKey("tokenizer.ggml.tokens")
        }
        vocabularySize = tokens.count
        guard vocabularySize > 0 else { throw ModelError.invalidKey("tokenizer.ggml.tokens", "is empty") }
    }

    static func check(_ key: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ModelError.invalidKey(key, "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
    }
}
