import GGUF

/// Qwen2 / Qwen2.5: llama's layout with biases on the Q, K and V projections and NeoX RoPE.
enum Qwen2: Architecture {
    static let name = "qwen2"

    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters {
        try Hyperparameters(file: file, architecture: name, ropeStyle: .neox)
    }

    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel {
        let hp = try hyperparameters(file)
        let weights = try TensorBinder(file: file).standardWeights(hp)
        for (index, layer) in weights.layers.enumerated() {
            for projection in [layer.query, layer.key, layer.value] where projection.bias == nil {
                throw ModelError.missingTensor("blk.\(index).\(projection.name.split(separator: ".")[2]).bias")
            }
        }
        let recipe = TransformerRecipe(attentionScale: 1 / Float(hp.headDimension).squareRoot())
        return try TransformerModel(file: file, hyperparameters: hp, recipe: recipe, weights: weights, threads: threads)
    }
}
