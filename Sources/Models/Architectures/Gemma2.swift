import GGUF

/// Gemma 2: gemma3's layout without Q/K norms — embeddings scaled by √d, norms before and after
/// attention and the feed-forward, GeGLU, NeoX RoPE — plus soft-capping of the attention scores
/// (`attn_logit_softcapping`, default 50) and of the final logits (`final_logit_softcapping`,
/// default 30). Even layers use a sliding window (`attention.sliding_window`, default 4096; every
/// 2nd layer global unless `attention.sliding_window_pattern` says otherwise), with the global
/// RoPE base and scale unless `rope.freq_base_swa` is given. Queries are scaled by 1/√head_dimension
/// (1/√(d/heads) for the 46-layer 27B), as llama.cpp does.
enum Gemma2: Architecture {
    static let name = "gemma2"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        var hp = try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
        let prefix = name + "."
        let window = try positiveInt(file, prefix + "attention.sliding_window") ?? 4096
        hp.slidingWindow = window
        hp.slidingLayers = try Gemma3.slidingPattern(file, architecture: name, layers: hp.blockCount, every: 2)
        hp.ropeFrequencyBaseSliding = try positiveFloat(file, prefix + "rope.freq_base_swa") ?? hp.ropeFrequencyBase
        hp.ropeFrequencyScaleSliding = hp.ropeFrequencyScale
        return hp
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let prefix = name + "."
        let attentionCap = try positiveFloat(file, prefix + "attn_logit_softcapping") ?? 50
        let finalCap = try positiveFloat(file, prefix + "final_logit_softcapping") ?? 30

        let weights = try TensorBinder(file: file).standardWeights(hp)
        for (index, layer) in weights.layers.enumerated() {
            let p = "blk.\(index)."
            if layer.queryNorm != nil || layer.keyNorm != nil {
                throw ModelError.unsupported(p + "attn_q_norm.weight", "gemma2 has no query/key norms (a gemma3 file?)")
            }
            if layer.postAttentionNorm == nil { throw ModelError.missingTensor(p + "post_attention_norm.weight") }
            if layer.postFeedForwardNorm == nil { throw ModelError.missingTensor(p + "post_ffw_norm.weight") }
        }
        let queryScaleDimension = hp.blockCount == 46 ? hp.embeddingLength / hp.headCount : hp.headDimension
        let recipe = TransformerRecipe(
            activation: .geGLU,
            embeddingScale: Float(hp.embeddingLength).squareRoot(),
            attentionScale: 1,
            queryScale: 1 / Float(queryScaleDimension).squareRoot(),
            attentionLogitSoftCap: attentionCap,
            finalLogitSoftCap: finalCap)
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }

    private static func positiveInt(_ file: GGUFFile, _ key: String) throws -> Int? {
        guard let value = file[key] else { return nil }
        guard let int = value.asInt, int > 0 else { throw ModelError.invalidKey(key, "expected a positive integer, got \(value)") }
        return int
    }

    private static func positiveFloat(_ file: GGUFFile, _ key: String) throws -> Float? {
        guard let value = file[key] else { return nil }
        guard let number = value.asFloat, number > 0, number.isFinite else {
            throw ModelError.invalidKey(key, "expected a positive number, got \(value)")
        }
        return Float(number)
    }
}
