import GGUF

/// Qwen3 (dense): no projection biases, per-head RMS norms on queries and keys before RoPE,
/// NeoX RoPE.
enum Qwen3: Architecture {
    static let name = "qwen3"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let weights = try TensorBinder(file: file).standardWeights(hp)
        for (index, layer) in weights.layers.enumerated() {
            if layer.queryNorm == nil { throw ModelError.missingTensor("blk.\(index).attn_q_norm.weight") }
            if layer.keyNorm == nil { throw ModelError.missingTensor("blk.\(index).attn_k_norm.weight") }
        }
        let recipe = TransformerRecipe(attentionScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
