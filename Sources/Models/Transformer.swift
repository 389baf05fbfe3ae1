import GGUF
import Kernels

/// The feed-forward activation between the gate and up projections.
public enum FeedForwardActivation: Sendable {
    /// silu(gate) · up — llama, qwen2, qwen3.
    case swiGLU
    /// gelu_tanh(gate) · up — gemma3.
    case geGLU
}

/// What distinguishes one decoder-only architecture from another, decided by its file in
/// `Architectures/` and consumed by the shared forward pass.
public struct TransformerRecipe: Sendable {
    public var activation: FeedForwardActivation = .swiGLU
    /// Multiplies token embeddings (gemma3: √embedding_length).
    public var embeddingScale: Float? = nil
    /// Multiplies each query · key score (1/√head_dimension unless the architecture says).
    public var attentionScale: Float
    /// Multiplies the queries themselves before they are rounded to binary16 to meet the keys
    /// (gemma3, whose graph scales Q with `ggml_scale` and leaves the score unscaled): nil for
    /// none. The same factor on the score instead rounds differently once a scaled query is a
    /// binary16 subnormal.
    public var queryScale: Float? = nil
}

/// One layer's weights. Optional parts are present only for architectures that have them.
public struct LayerWeights: Sendable {
    var attentionNorm: [Float]
    var query: Linear
    var key: Linear
    var value: Linear
    var output: Linear
    /// Per-head RMS norms of queries and keys (qwen3, gemma3), length head_dimension.
    var queryNorm: [Float]?
    var keyNorm: [Float]?
    /// Norm of the attention output before the residual add (gemma3).
    var postAttentionNorm: [Float]?
    var feedForwardNorm: [Float]
    var feedForward: FeedForwardWeights
    /// Norm of the feed-forward output before the residual add (gemma3).
    var postFeedForwardNorm: [Float]?
}

/// The feed-forward part of a layer: one gated MLP, or a mixture of experts.
public enum FeedForwardWeights: Sendable {
    case dense(DenseFeedForward)
    case experts(MixtureOfExperts)
}

/// act(gate · x) ⊙ (up · x), then down.
public struct DenseFeedForward: Sendable {
    var gate: Linear
    var up: Linear
    var down: Linear
}

/// The weights of a whole decoder, bound to the memory-mapped file.
public struct TransformerWeights: Sendable {
    var tokenEmbedding: Linear
    var layers: [LayerWeights]
    var outputNorm: [Float]
    /// The LM head; the token embedding itself when the file ties them.
    var output: Linear
    /// Llama 3 style per-dimension RoPE frequency divisors (`rope_freqs.weight`), length ropeDimensions/2.
    var ropeFrequencyFactors: [Float]?
}

extension TensorBinder {
    /// Binds the tensors every llama-family decoder has, with the optional extras when present.
    /// Architectures call this and then check for what is required of them; every layer's
    /// feed-forward is a dense gated MLP.
    func standardWeights(_ hp: Hyperparameters) throws -> TransformerWeights {
        try standardWeights(hp) { .dense(try denseFeedForward(layer: $0, hp)) }
    }

    /// The gated MLP of layer `index` (`ffn_gate`, `ffn_up`, `ffn_down`).
    func denseFeedForward(layer index: Int, _ hp: Hyperparameters) throws -> DenseFeedForward {
        let p = "blk.\(index)."
        return DenseFeedForward(
            gate: try linear(p + "ffn_gate.weight", rows: hp.feedForwardLength, columns: hp.embeddingLength),
            up: try linear(p + "ffn_up.weight", rows: hp.feedForwardLength, columns: hp.embeddingLength),
            down: try linear(p + "ffn_down.weight", rows: hp.embeddingLength, columns: hp.feedForwardLength))
    }

    /// The standard attention, norms and output with each layer's feed-forward from `feedForward`.
    func standardWeights(_ hp: Hyperparameters, feedForward: (Int) throws -> FeedForwardWeights) throws -> TransformerWeights {
        let embedding = hp.embeddingLength
        let tokenEmbedding = try linear("token_embd.weight", rows: hp.vocabularySize, columns: embedding)
        let output =
            has("output.weight")
            ? try linear("output.weight", rows: hp.vocabularySize, columns: embedding) : tokenEmbedding
        var layers: [LayerWeights] = []
        for index in 0..<hp.blockCount {
            let p = "blk.\(index)."
            layers.append(
                LayerWeights(
                    attentionNorm: try vector(p + "attn_norm.weight", length: embedding),
                    query: try linear(p + "attn_q.weight", rows: hp.queryLength, columns: embedding, bias: p + "attn_q.bias"),
                    key: try linear(p + "attn_k.weight", rows: hp.keyLength, columns: embedding, bias: p + "attn_k.bias"),
                    value: try linear(p + "attn_v.weight", rows: hp.valueLength, columns: embedding, bias: p + "attn_v.bias"),
                    output: try linear(p + "attn_output.weight", rows: embedding, columns: hp.queryLength),
                    queryNorm: try optionalVector(p + "attn_q_norm.weight", length: hp.headDimension),
                    keyNorm: try optionalVector(p + "attn_k_norm.weight", length: hp.headDimension),
                    postAttentionNorm: try optionalVector(p + "post_attention_norm.weight", length: embedding),
                    feedForwardNorm: try vector(p + "ffn_norm.weight", length: embedding),
                    feedForward: try feedForward(index),
                    postFeedForwardNorm: try optionalVector(p + "post_ffw_norm.weight", length: embedding)
                ))
        }
        return TransformerWeights(
            tokenEmbedding: tokenEmbedding, layers: layers,
            outputNorm: try vector("output_norm.weight", length: embedding), output: output,
            ropeFrequencyFactors: try optionalVector("rope_freqs.weight", length: hp.ropeDimensions / 2))
    }
}
