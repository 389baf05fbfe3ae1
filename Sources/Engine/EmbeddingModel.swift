import Foundation
import GGUF
import Models
import Tokenizers

/// An embedding model ready to run: an encoder (BERT, nomic-bert) with its own pooling, its
/// tokenizer and its file. Immutable and shared; it makes vectors, never text (the server refuses
/// chat and generate on it, as Ollama does).
///
/// ```swift
/// let model = try EmbeddingModel(path: "all-minilm.gguf", threads: 2)
/// let (vector, tokens) = try model.embedding(of: "The cat sits on the mat.")
/// ```
public final class EmbeddingModel: Sendable {
    public let file: GGUFFile
    public let encoder: EncoderModel
    public let tokenizer: Tokenizer

    public init(path: String, threads: Int) throws {
        try KernelCheck.requireSupportedCPU()
        file = try GGUFFile(path: path)
        encoder = try EncoderModel.load(file, threads: threads)
        tokenizer = try Tokenizer(vocabulary: Vocabulary(file: file))
        guard tokenizer.vocabularySize == encoder.hyperparameters.vocabularySize else {
            throw EngineError.invalidKey(
                "tokenizer.ggml.tokens",
                "\(tokenizer.vocabularySize) tokens, but the model's embedding has \(encoder.hyperparameters.vocabularySize) rows")
        }
    }

    /// Whether `file` holds an encoder this type runs (an embedding model, not a chat model).
    public static func isEmbeddingModel(_ file: GGUFFile) -> Bool { EncoderModel.isEncoder(file) }

    /// The longest input, in tokens (the trained positions).
    public var contextLength: Int { encoder.hyperparameters.contextLength }
    /// Length of every vector.
    public var dimensions: Int { encoder.hyperparameters.embeddingLength }
    /// How the model pools its token states.
    public var pooling: PoolingType { encoder.hyperparameters.pooling }

    /// The unit-length embedding of `text`, tokenized as llama-embedding does (the model's
    /// special tokens added, spelled special tokens parsed). `truncate` keeps the first tokens of
    /// a longer input and its final separator, instead of refusing it.
    public func embedding(of text: String, truncate: Bool = false) throws -> (vector: [Float], tokenCount: Int) {
        try embedding(ofTokens: tokenizer.encode(text, addSpecial: true, parseSpecial: true), truncate: truncate)
    }

    /// The embedding of tokens the client already has (ids of this model's vocabulary, used as
    /// they are: no special tokens are added).
    public func embedding(ofTokens input: [Int32], truncate: Bool = false) throws -> (vector: [Float], tokenCount: Int) {
        guard !input.isEmpty else { throw EngineError.emptyPrompt }
        let vocabularySize = tokenizer.vocabularySize
        if let bad = input.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw EngineError.invalidToken(bad, vocabularySize: vocabularySize)
        }
        var tokens = input
        let limit = contextLength
        if tokens.count > limit {
            guard truncate else { throw EngineError.promptTooLong(tokens: tokens.count, context: limit) }
            // BERT reads its input up to the closing [SEP]: keep it at the end.
            let last = tokens[tokens.count - 1]
            tokens.removeLast(tokens.count - limit)
            if tokenizer.isControl(last) { tokens[limit - 1] = last }
        }
        return (try encoder.embedding(of: tokens), tokens.count)
    }
}

/// How an embedding model pools its token states (`Models.PoolingType`), for the targets above.
public typealias PoolingType = Models.PoolingType
