import GGUF

/// Llama (SmolLM2, Llama 2/3): pre-norm decoder, SwiGLU, RoPE on adjacent pairs, optional
/// Llama 3 per-dimension RoPE frequency factors (`rope_freqs.weight`). With `expert_count`, every
/// feed-forward is a mixture of experts as in Mixtral (experts as wide as feed_forward_length,
/// softmax router, chosen weights normalised).
enum Llama: Architecture {
    static let name = "llama"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        try Hyperparameters(file: file, architecture: name, ropeStyle: .normal)
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let binder = TensorBinder(file: file)
        let weights = hp.expertCount > 0
            ? try binder.standardWeights(hp) { .experts(try binder.mixtureOfExperts(layer: $0, hp, hiddenLength: hp.feedForwardLength)) }
            : try binder.standardWeights(hp)
        try requireAbsent(weights, "attn_q_norm / post_attention_norm", in: name)
        let recipe = TransformerRecipe(attentionScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
