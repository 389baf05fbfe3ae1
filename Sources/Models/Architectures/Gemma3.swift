import GGUF

/// Gemma 3 (text): embeddings scaled by √d, Q/K norms, norms after attention and after the
/// feed-forward as well as before, GeGLU, and interleaved sliding-window (local) and global
/// layers — every 6th layer global unless `attention.sliding_window_pattern` says otherwise —
/// where local layers use their own RoPE base (`rope.freq_base_swa`, default 10000).
enum Gemma3: Architecture {
    static let name = "gemma3"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        var hp = try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
        let prefix = name + "."
        if let window = file[prefix + "attention.sliding_window"] {
            guard let span = window.asInt, span >= 0 else {
                throw ModelError.invalidKey(prefix + "attention.sliding_window", "expected a non-negative integer, got \(window)")
            }
            if span > 0 {
                hp.slidingWindow = span
                hp.slidingLayers = try slidingPattern(file, architecture: name, layers: hp.blockCount, every: 6)
                if let base = file[prefix + "rope.freq_base_swa"] {
                    guard let value = base.asFloat, value > 0, value.isFinite else {
                        throw ModelError.invalidKey(prefix + "rope.freq_base_swa", "expected a positive number, got \(base)")
                    }
                    hp.ropeFrequencyBaseSliding = Float(value)
                }
            }
        }
        return hp
    }

    /// llama.cpp caps the logits when `final_logit_softcapping` is present and non-zero.
    private static func finalLogitSoftCap(_ file: GGUFFile) throws -> Float? {
        let key = name + ".final_logit_softcapping"
        guard let value = file[key] else { return nil }
        guard let cap = value.asFloat, cap.isFinite, cap >= 0 else {
            throw ModelError.invalidKey(key, "expected a non-negative number, got \(value)")
        }
        return cap == 0 ? nil : Float(cap)
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let weights = try TensorBinder(file: file).standardWeights(hp)
        for (index, layer) in weights.layers.enumerated() {
            let p = "blk.\(index)."
            if layer.queryNorm == nil { throw ModelError.missingTensor(p + "attn_q_norm.weight") }
            if layer.keyNorm == nil { throw ModelError.missingTensor(p + "attn_k_norm.weight") }
            if layer.postAttentionNorm == nil { throw ModelError.missingTensor(p + "post_attention_norm.weight") }
            if layer.postFeedForwardNorm == nil { throw ModelError.missingTensor(p + "post_ffw_norm.weight") }
        }
        // Gemma 3 27B scales queries by 1/√(d/heads); the smaller ones by 1/√head_dimension.
        let queryScaleDimension = hp.blockCount == 62 ? hp.embeddingLength / hp.headCount : hp.headDimension
        let recipe = TransformerRecipe(
            activation: .geGLU,
            embeddingScale: Float(hp.embeddingLength).squareRoot(),
            attentionScale: 1,
            queryScale: 1 / Float(queryScaleDimension).squareRoot(),
            finalLogitSoftCap: try finalLogitSoftCap(file))
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }

    /// Layer i is local unless i % pattern == pattern - 1, the pattern being
    /// `attention.sliding_window_pattern` or `every`; an array-valued key lists them (gemma2 too).
    static func slidingPattern(_ file: GGUFFile, architecture: String, layers: Int, every: Int) throws -> [Bool] {
        let key = architecture + ".attention.sliding_window_pattern"
        guard let value = file[key] else { return (0..<layers).map { $0 % every < every - 1 } }
        if let pattern = value.asInt {
            guard pattern >= 0 else { throw ModelError.invalidKey(key, "must be ≥ 0, got \(pattern)") }
            return (0..<layers).map { pattern == 0 || $0 % pattern < pattern - 1 }
        }
        if let flags = value.asArray?.asBools, flags.count == layers { return flags }
        throw ModelError.invalidKey(key, "expected an integer or \(layers) booleans")
    }
}
