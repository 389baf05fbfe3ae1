/// The facts about a model that `hearth show` prints, gathered from one ``GGUFFile``.
///
/// Hyperparameters come from the architecture-prefixed keys (`llama.context_length`, …) and are
/// nil when missing or not integers; nothing here throws, since it is for display only.
///
/// ```swift
/// let summary = GGUFSummary(try GGUFFile(path: path))
/// print(summary.architecture, summary.parameterCount, summary.fileType)  // llama 134515008 Q4_1
/// ```
public struct GGUFSummary: Sendable, Codable, Equatable {
    /// `general.architecture`, or `"unknown"` when absent.
    public var architecture: String
    /// `general.name`.
    public var name: String?
    /// The sum of all tensors' element counts.
    public var parameterCount: Int
    /// The name of `general.file_type` (e.g. `"Q4_K_M"`), or, when absent, the most common type
    /// among the weight matrices (e.g. `"Q4_K"`).
    public var fileType: String
    /// Tensor type name -> number of tensors of that type.
    public var tensorTypes: [String: Int]
    public var contextLength: Int?
    public var embeddingLength: Int?
    public var blockCount: Int?
    public var headCount: Int?
    public var headCountKV: Int?
    /// `tokenizer.ggml.model`, e.g. `"gpt2"` or `"llama"`.
    public var tokenizerModel: String?
    /// `tokenizer.ggml.pre`, e.g. `"qwen2"`.
    public var tokenizerPre: String?
    /// Entries in `tokenizer.ggml.tokens` (or `{arch}.vocab_size` when there is no token list).
    public var vocabularySize: Int?
    /// Whether `tokenizer.chat_template` is present.
    public var hasChatTemplate: Bool
    public var fileSize: Int
    public var version: Int
    public var tensorCount: Int

    public init(_ file: GGUFFile) {
        let architecture = file["general.architecture"]?.asString ?? "unknown"
        self.architecture = architecture
        name = file["general.name"]?.asString
        parameterCount = file.tensors.reduce(0) { $0 &+ $1.elementCount }

        var typeCounts = [String: Int]()
        for tensor in file.tensors {
            typeCounts[tensor.type.name, default: 0] += 1
        }
        tensorTypes = typeCounts
        fileType = Self.fileTypeName(file)

        func hyperparameter(_ suffix: String) -> Int? {
            Self.integer(file["\(architecture).\(suffix)"])
        }
        contextLength = hyperparameter("context_length")
        embeddingLength = hyperparameter("embedding_length")
        blockCount = hyperparameter("block_count")
        headCount = hyperparameter("attention.head_count")
        headCountKV = hyperparameter("attention.head_count_kv")

        tokenizerModel = file["tokenizer.ggml.model"]?.asString
        tokenizerPre = file["tokenizer.ggml.pre"]?.asString
        vocabularySize = file["tokenizer.ggml.tokens"]?.asArray?.count ?? hyperparameter("vocab_size")
        hasChatTemplate = file["tokenizer.chat_template"] != nil
        fileSize = file.fileSize
        version = Int(file.version)
        tensorCount = file.tensors.count
    }

    /// An integer, or the largest of a per-layer integer array (some architectures vary head
    /// counts by layer, with 0 for layers without attention).
    private static func integer(_ value: GGUFValue?) -> Int? {
        if let single = value?.asInt { return single }
        return value?.asArray?.asInts?.max()
    }

    private static func fileTypeName(_ file: GGUFFile) -> String {
        if let code = file["general.file_type"]?.asInt {
            return GGUFFileType(rawValue: code)?.name ?? "unknown (\(code))"
        }
        // Norms and biases are 1-D and usually F32 whatever the quantisation, so only matrices vote.
        var votes = [GGUFTensorType: Int]()
        for tensor in file.tensors where tensor.dimensions.count >= 2 {
            votes[tensor.type, default: 0] += 1
        }
        let winner = votes.max { lhs, rhs in
            lhs.value != rhs.value ? lhs.value < rhs.value : lhs.key.rawValue > rhs.key.rawValue
        }
        return winner?.key.name ?? "unknown"
    }
}
