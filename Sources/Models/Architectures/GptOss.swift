import GGUF

/// gpt-oss (gpt-oss-20b, gpt-oss-120b) as llama.cpp's src/models/openai-moe.cpp builds it: Q/K/V
/// and the attention output with biases, NeoX RoPE (YaRN in the released files), a learned sink
/// per head in each softmax's denominator, even layers on a sliding window (every 2nd layer
/// global unless `attention.sliding_window_pattern` says otherwise) with the global RoPE unless
/// `rope.freq_base_swa` is given; `post_attention_norm` norms the feed-forward's input; every
/// feed-forward a mixture of experts with biases — the highest router logits chosen and weighted
/// by a softmax over them alone, the clamped SwiGLU (alpha 1.702, limit 7, llama.cpp's
/// constants) — its experts usually in MXFP4.
enum GptOss: Architecture {
    static let name = "gpt-oss"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        var hp = try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
        guard hp.expertCount > 0 else { throw ModelError.missingKey(name + ".expert_count") }
        let windowKey = name + ".attention.sliding_window"
        guard let value = file[windowKey] else { throw ModelError.missingKey(windowKey) }
        guard let window = value.asInt, window > 0 else {
            throw ModelError.invalidKey(windowKey, "expected a positive integer, got \(value)")
        }
        hp.slidingWindow = window
        hp.slidingLayers = try Gemma3.slidingPattern(file, architecture: name, layers: hp.blockCount, every: 2)
        let baseKey = name + ".rope.freq_base_swa"
        if let value = file[baseKey] {
            guard let base = value.asFloat, base > 0, base.isFinite else {
                throw ModelError.invalidKey(baseKey, "expected a positive number, got \(value)")
            }
            hp.ropeFrequencyBaseSliding = Float(base)
        } else {
            hp.ropeFrequencyBaseSliding = hp.ropeFrequencyBase
        }
        hp.ropeFrequencyScaleSliding = hp.ropeFrequencyScale
        return hp
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let binder = TensorBinder(file: file)
        var weights = try binder.standardWeights(hp, feedForwardNorm: "post_attention_norm.weight") { index in
            var experts = try binder.mixtureOfExperts(layer: index, hp, normalizesWeights: false, biases: true)
            experts.selection = .bestThenSoftmax
            experts.activation = .clampedSwiGLU(alpha: 1.702, limit: 7)
            return .experts(experts)
        }
        for index in weights.layers.indices {
            let p = "blk.\(index)."
            // `post_attention_norm` is the feed-forward's input norm here, bound above; not a
            // norm of the attention output.
            weights.layers[index].postAttentionNorm = nil
            if binder.has(p + "ffn_norm.weight") {
                throw ModelError.unsupported(p + "ffn_norm.weight", "gpt-oss norms the feed-forward with post_attention_norm")
            }
            if weights.layers[index].queryNorm != nil || weights.layers[index].keyNorm != nil {
                throw ModelError.unsupported(p + "attn_q_norm.weight", "gpt-oss has no query/key norms")
            }
            guard binder.has(p + "attn_output.bias") else { throw ModelError.missingTensor(p + "attn_output.bias") }
            weights.layers[index].output = try binder.linear(
                p + "attn_output.weight", rows: hp.embeddingLength, columns: hp.queryLength, bias: p + "attn_output.bias")
            weights.layers[index].attentionSinks = try binder.vector(p + "attn_sinks.weight", length: hp.headCount)
        }
        let recipe = TransformerRecipe(attentionScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
