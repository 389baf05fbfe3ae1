import GGUF

/// Qwen3 mixture of experts (Qwen3-30B-A3B, Qwen3-235B-A22B): qwen3's attention (per-head Q/K
/// norms, NeoX RoPE, no biases) with every feed-forward a mixture of experts — softmax router,
/// the `expert_used_count` best experts, their weights normalised to sum 1.
enum Qwen3MoE: Architecture {
    static let name = "qwen3moe"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        let hp = try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
        guard hp.expertCount > 0 else { throw ModelError.missingKey(name + ".expert_count") }
        return hp
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let binder = TensorBinder(file: file)
        let weights = try binder.standardWeights(hp) { index in
            .experts(try binder.mixtureOfExperts(layer: index, hp, normalizesWeights: true))
        }
        for (index, layer) in weights.layers.enumerated() {
            if layer.queryNorm == nil { throw ModelError.missingTensor("blk.\(index).attn_q_norm.weight") }
            if layer.keyNorm == nil { throw ModelError.missingTensor("blk.\(index).attn_k_norm.weight") }
        }
        let recipe = TransformerRecipe(attentionScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
