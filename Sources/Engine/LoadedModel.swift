import Foundation
import GGUF
import Grammar
import Kernels
import Models
import Tokenizers

/// A model ready to run: memory-mapped weights, its tokenizer, and its file. Immutable and
/// shared; each conversation gets its own ``Session``.
///
/// ```swift
/// let loaded = try LoadedModel(path: "/models/smollm2.gguf", threads: 2)
/// let session = try loaded.makeSession(contextLength: 2048)
/// ```
public final class LoadedModel: Sendable {
    public let file: GGUFFile
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    public let customization: ChatCustomization
    /// The chat format, or why the file's template cannot be used (raw completion still works).
    private let chatFormatResult: Result<ChatFormat, EngineError>

    /// `productOrder`: the float order of the quantised products (`ProductOrder`; `hearth serve`
    /// uses `.blockSums`, everything else llama.cpp's).
    /// `customization`: a created model's template, system prompt and leading turns.
    /// `adapters`: LoRA adapters added to the projections at run time.
    /// `cacheType`: how every KV cache made for this model stores keys and values.
    public init(path: String, threads: Int, productOrder: ProductOrder = .llamaCpp,
                customization: ChatCustomization = ChatCustomization(), adapters: [LoRAAdapter] = [],
                cacheType: KVCacheType = .f16) throws {
        self.customization = customization
        try KernelCheck.requireSupportedCPU()
        file = try GGUFFile(path: path)
        if EncoderModel.isEncoder(file) {
            // An encoder has no language-model head: say what it is for, not which decoders exist.
            let architecture = file["general.architecture"]?.asString ?? "encoder"
            let ranks = EncoderModel.hasClassificationHead(file)
            throw EngineError.invalidOption(
                "model", "a '\(architecture)' file is an encoder: it makes embeddings (/v1/embeddings, /api/embed)"
                    + (ranks ? " and scores query–document pairs (/v1/rerank)" : "") + " with `hearth serve`, and generates no text")
        }
        model = try TransformerModel.load(file, threads: threads, adapters: adapters)
        model.productOrder = productOrder
        if let reason = cacheType.unsupportedReason(model.hyperparameters) {
            throw EngineError.invalidOption("kv cache type \(cacheType.rawValue)", reason)
        }
        model.cacheType = cacheType
        tokenizer = try Tokenizer(vocabulary: Vocabulary(file: file))
        guard tokenizer.vocabularySize == model.hyperparameters.vocabularySize else {
            throw EngineError.invalidKey(
                "tokenizer.ggml.tokens",
                "\(tokenizer.vocabularySize) tokens, but the model's output has \(model.hyperparameters.vocabularySize)")
        }
        do {
            chatFormatResult = .success(try ChatFormat(file: file, tokenizer: tokenizer, customization: customization))
        } catch let error as EngineError {
            chatFormatResult = .failure(error)
        } catch {
            chatFormatResult = .failure(.invalidKey("tokenizer.chat_template", "\(error)"))
        }
    }

    /// How conversations are written for this model; throws when its template is unusable.
    public func chatFormat() throws -> ChatFormat { try chatFormatResult.get() }

    /// The vocabulary as the bytes each token writes, for grammar-constrained decoding: built
    /// on first use (most models never see a grammar) and shared by every sequence after.
    public var tokenVocabulary: TokenVocabulary {
        vocabularyLock.lock()
        defer { vocabularyLock.unlock() }
        if let built = builtVocabulary { return built }
        let pieces: [[UInt8]?] = (0..<tokenizer.vocabularySize).map { id in
            tokenizer.isControl(Int32(id)) ? nil : tokenizer.piece(Int32(id))
        }
        let built = TokenVocabulary(pieces: pieces, endOfGeneration: tokenizer.endOfGenerationTokenIDs)
        builtVocabulary = built
        return built
    }
    private let vocabularyLock = NSLock()
    private nonisolated(unsafe) var builtVocabulary: TokenVocabulary?

    /// The context the model was trained for.
    public var trainedContextLength: Int { model.hyperparameters.contextLength }

    /// A new conversation with room for `contextLength` tokens (capped at the trained length).
    public func makeSession(contextLength: Int) throws -> Session {
        guard contextLength > 0 else { throw EngineError.invalidOption("context length", "must be > 0, got \(contextLength)") }
        return Session(model: self, cache: try model.makeCache(capacity: min(contextLength, trainedContextLength)))
    }
}

/// A LoRA adapter file, opened and checked (see `Models.LoRAAdapter`).
public typealias LoRAAdapter = Models.LoRAAdapter
/// How KV caches store keys and values, for the targets above the engine.
public typealias KVCacheType = Models.KVCacheType
