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
    /// Attention logit soft-capping (gemma2's `attn_logit_softcapping`): each score becomes
    /// cap · tanh(score / cap) before the softmax; nil for none.
    public var attentionLogitSoftCap: Float? = nil
    /// Final logit soft-capping (`final_logit_softcapping`): each logit becomes
    /// cap · tanh(logit / cap); nil for none.
    public var finalLogitSoftCap: Float? = nil
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
    /// One learned logit per query head that joins each softmax's denominator (gpt-oss's
    /// `attn_sinks`): attention may go to no position at all.
    var attentionSinks: [Float]? = nil
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
    /// Divisors used instead of `ropeFrequencyFactors` by caches longer than
    /// `rope.scaling.original_context_length` (phi3's LongRoPE `rope_factors_long.weight`).
    var ropeFrequencyFactorsLong: [Float]? = nil
}

extension TensorBinder {
    /// Binds the tensors every llama-family decoder has, with the optional extras when present.
    /// Architectures call this and then check for what is required of them; every layer's
    /// feed-forward is a dense gated MLP.
    /// `fusedGateUp`: the layers have no `ffn_gate` and their `ffn_up` holds the gate rows and then
    /// the up rows (phi3).
    func standardWeights(_ hp: Hyperparameters, fusedGateUp: Bool = false) throws -> TransformerWeights {
        try standardWeights(hp) { .dense(try denseFeedForward(layer: $0, hp, fusedGateUp: fusedGateUp)) }
    }

    /// The gated MLP of layer `index` (`ffn_gate`, `ffn_up`, `ffn_down`; gate and up fused in
    /// `ffn_up` with `fusedGateUp`).
    func denseFeedForward(layer index: Int, _ hp: Hyperparameters, fusedGateUp: Bool = false) throws -> DenseFeedForward {
        let p = "blk.\(index)."
        let gateUp = try feedForwardProjections(p, hp, fused: fusedGateUp)
        return DenseFeedForward(
            gate: gateUp.gate, up: gateUp.up,
            down: try linear(p + "ffn_down.weight", rows: hp.embeddingLength, columns: hp.feedForwardLength))
    }

    /// The standard attention, norms and output with each layer's feed-forward from `feedForward`.
    /// `feedForwardNorm`: the tensor (in each `blk.N.`) that norms the feed-forward's input.
    func standardWeights(_ hp: Hyperparameters, feedForwardNorm: String = "ffn_norm.weight",
                         feedForward: (Int) throws -> FeedForwardWeights) throws -> TransformerWeights {
        let embedding = hp.embeddingLength
        let tokenEmbedding = try linear("token_embd.weight", rows: hp.vocabularySize, columns: embedding)
        let output =
            has("output.weight")
            ? try linear("output.weight", rows: hp.vocabularySize, columns: embedding) : tokenEmbedding
        var layers: [LayerWeights] = []
        for index in 0..<hp.blockCount {
            let p = "blk.\(index)."
            let qkv = try attentionProjections(p, hp)
            layers.append(
                LayerWeights(
                    attentionNorm: try vector(p + "attn_norm.weight", length: embedding),
                    query: qkv.query, key: qkv.key, value: qkv.value,
                    output: try linear(p + "attn_output.weight", rows: embedding, columns: hp.queryLength),
                    queryNorm: try optionalVector(p + "attn_q_norm.weight", length: hp.headDimension),
                    keyNorm: try optionalVector(p + "attn_k_norm.weight", length: hp.headDimension),
                    postAttentionNorm: try optionalVector(p + "post_attention_norm.weight", length: embedding),
                    feedForwardNorm: try vector(p + feedForwardNorm, length: embedding),
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

extension TensorBinder {
    /// Q, K and V: three tensors, or row ranges of one `attn_qkv` (rows Q, then K, then V; its
    /// optional bias split the same way). Output rows are independent, so a view of the fused
    /// matrix gives the fused product's rows exactly.
    func attentionProjections(_ p: String, _ hp: Hyperparameters) throws -> (query: Linear, key: Linear, value: Linear) {
        let embedding = hp.embeddingLength
        guard has(p + "attn_qkv.weight") else {
            return (try linear(p + "attn_q.weight", rows: hp.queryLength, columns: embedding, bias: p + "attn_q.bias"),
                    try linear(p + "attn_k.weight", rows: hp.keyLength, columns: embedding, bias: p + "attn_k.bias"),
                    try linear(p + "attn_v.weight", rows: hp.valueLength, columns: embedding, bias: p + "attn_v.bias"))
        }
        let parts = try rowViews(p + "attn_qkv.weight", rows: [hp.queryLength, hp.keyLength, hp.valueLength],
                                 columns: embedding, bias: p + "attn_qkv.bias")
        return (parts[0], parts[1], parts[2])
    }

    /// Gate and up: two tensors, or (`fused`) the halves of one `ffn_up` of twice the rows, the
    /// gate first — ggml's `swiglu` of a fused up takes silu of the first half.
    func feedForwardProjections(_ p: String, _ hp: Hyperparameters, fused: Bool) throws -> (gate: Linear, up: Linear) {
        let (rows, embedding) = (hp.feedForwardLength, hp.embeddingLength)
        guard fused else {
            return (try linear(p + "ffn_gate.weight", rows: rows, columns: embedding),
                    try linear(p + "ffn_up.weight", rows: rows, columns: embedding))
        }
        if has(p + "ffn_gate.weight") {
            throw ModelError.unsupported(p + "ffn_gate.weight", "this architecture fuses the gate into ffn_up")
        }
        let parts = try rowViews(p + "ffn_up.weight", rows: [rows, rows], columns: embedding)
        return (parts[0], parts[1])
    }

    /// Consecutive row ranges of one matrix, `rows` long each, as separate projections.
    func rowViews(_ name: String, rows: [Int], columns: Int, bias biasName: String? = nil) throws -> [Linear] {
        let whole = try linear(name, rows: rows.reduce(0, +), columns: columns, bias: biasName)
        var views: [Linear] = []
        var start = 0
        for count in rows {
            let matrix: WeightMatrix
            do {
                matrix = try WeightMatrix(
                    name: name, format: whole.matrix.format, rows: count, columns: columns,
                    data: whole.matrix.row(start), byteCount: count * whole.matrix.rowByteCount)
            } catch {
                throw ModelError.tensorType(name, "rows \(start)..<\(start + count): \(error)")
            }
            views.append(Linear(matrix: matrix, bias: whole.bias.map { Array($0[start..<start + count]) }))
            start += count
        }
        return views
    }
}
