import GGUF

/// One decoder architecture: reads its hyperparameters, binds its tensors and says how the
/// shared forward pass should run. One file per architecture in `Architectures/`.
protocol Architecture {
    /// `general.architecture` value this type handles.
    static var name: String { get }
    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel
}

/// Architectures Hearth can run, by `general.architecture`.
let architectures: [any Architecture.Type] = [Llama.self, Qwen2.self, Qwen3.self, Gemma2.self, Gemma3.self, Phi3.self]

extension TransformerModel {
    /// Names of the architectures ``load(_:threads:)`` accepts.
    public static var supportedArchitectures: [String] { architectures.map { $0.name } }

    /// Binds a model to `file`, choosing the architecture from `general.architecture`.
    ///
    /// ```swift
    /// let model = try TransformerModel.load(try GGUFFile(path: "smollm2.gguf"), threads: 2)
    /// ```
    /// `adapters`: LoRA adapters added to the projections at run time (the weights stay as they are).
    public static func load(_ file: GGUFFile, threads: Int, adapters: [LoRAAdapter] = []) throws -> TransformerModel {
        guard let value = file["general.architecture"] else { throw ModelError.missingKey("general.architecture") }
        guard let name = value.asString else {
            throw ModelError.invalidKey("general.architecture", "expected a string, got \(value)")
        }
        guard let architecture = architectures.first(where: { $0.name == name }) else {
            throw ModelError.unsupportedArchitecture(name, supported: supportedArchitectures)
        }
        let model = try architecture.load(file, threads: max(1, threads))
        if !adapters.isEmpty { model.weights = try model.weights.applying(adapters, architecture: name) }
        return model
    }
}

/// Llama must not carry tensors it would silently ignore (they mean a different architecture).
func requireAbsent(_ weights: TransformerWeights, _ what: String, in architecture: String) throws {
    for (index, layer) in weights.layers.enumerated()
    where layer.queryNorm != nil || layer.postAttentionNorm != nil || layer.postFeedForwardNorm != nil {
        throw ModelError.unsupported("blk.\(index)", "\(architecture) file carries \(what) tensors")
    }
}
