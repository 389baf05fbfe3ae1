import GGUF

/// Phi-3 / Phi-3.5 / Phi-4 (dense): llama's pre-norm decoder with Q, K and V fused into one
/// `attn_qkv` (bound as row views; separate tensors are accepted too), the gate fused into the
/// first half of `ffn_up`, NeoX RoPE, and LongRoPE: per-dimension frequency divisors
/// `rope_factors_short.weight`, and `rope_factors_long.weight` for contexts longer than
/// `rope.scaling.original_context_length`, with every rotation scaled by
/// `rope.scaling.attn_factor`. An `output.bias` is added to the logits, as llama.cpp's phi3
/// graph does (its current loader does not bind one, so no fixture has it; a test checks the sum).
///
/// `attention.sliding_window` is read but not applied: llama.cpp disables phi3's sliding window
/// (its converters do not record which layers use it), and Hearth follows its results.
enum Phi3: Architecture {
    static let name = "phi3"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let binder = TensorBinder(file: file)
        var weights = try binder.standardWeights(hp, fusedGateUp: true)
        try requireAbsent(weights, "attn_q_norm / post_attention_norm", in: name)
        if binder.has("output.weight") {
            weights.output = try binder.linear(
                "output.weight", rows: hp.vocabularySize, columns: hp.embeddingLength, bias: "output.bias")
        } else if binder.has("output.bias") {
            throw ModelError.missingTensor("output.weight")
        }
        let pairs = hp.ropeDimensions / 2
        let short = try binder.optionalVector("rope_factors_short.weight", length: pairs)
        let long = try binder.optionalVector("rope_factors_long.weight", length: pairs)
        // llama.cpp: `rope_freqs.weight`, when a file has it, wins over both; a missing set means
        // no factors for its contexts (divisors of 1, which divide exactly).
        if weights.ropeFrequencyFactors == nil, short != nil || long != nil {
            weights.ropeFrequencyFactors = short
            weights.ropeFrequencyFactorsLong = long ?? [Float](repeating: 1, count: pairs)
        }
        // The graph scales Q with `ggml_scale` before it meets the keys (see `queryScale`).
        let recipe = TransformerRecipe(attentionScale: 1, queryScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
