import GGUF

/// One decoder architecture: reads its hyperparameters, binds its tensors and says how the
/// shared forward pass should run. One file per architecture in `Architectures/`.
protocol Architecture {
    /// `general.architecture` value this type handles.
    static var name: String { get }
    /// The model's shape from the file's metadata: the one reader of it, used by loading, by
    /// the server's memory admission and by anything else that sizes a model.
    static func hyperparameters(_ file: GGUFFile) throws -> Hyperparameters
    static func load(_ file: GGUFFile, threads: Int) throws -> TransformerModel
}

/// Architectures Hearth can run, by `general.architecture`.
let architectures: [any Architecture.Type] = [Llama.self, Qwen2.self, Qwen3.self, Qwen3MoE.self, GptOss.self, Gemma2.self, Gemma3.self, Phi3.self]

extension Hyperparameters {
    /// The hyperparameters of a model file, read as loading it would read them (the
    /// architecture's own keys and defaults included); no tensor is touched.
    public static func read(_ file: GGUFFile) throws -> Hyperparameters {
        try registeredArchitecture(of: file).hyperparameters(file)
    }
}

/// The architecture `general.architecture` names, or an error naming what is wrong.
func registeredArchitecture(of file: GGUFFile) throws -> any Architecture.Type {
    guard let value = file["general.architecture"] else { throw ModelError.missingKey("general.architecture") }
    guard let name = value.asString else {
        throw ModelError.invalidKey("general.architecture", "expected a string, got \(value)")
    }
    guard let architecture = architectures.first(where: { $0.name == name }) else {
        throw ModelError.unsupportedArchitecture(name, supported: TransformerModel.supportedArchitectures)
    }
    return architecture
}

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
        let architecture = try registeredArchitecture(of: file)
        let model = try architecture.load(file, threads: max(1, threads))
        if !adapters.isEmpty { model.weights = try model.weights.applying(adapters, architecture: architecture.name) }
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
