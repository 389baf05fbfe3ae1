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
    /// Whether `file` is a reranker's (a classification head), read without loading the model.
    public static func isReranker(_ file: GGUFFile) -> Bool { EncoderModel.hasClassificationHead(file) }

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
        let tokens = try inputTokens(ofTokens: input, truncate: truncate)
        return (try encoder.embedding(of: tokens), tokens.count)
    }

    /// The embeddings of inputs already made into tokens (``inputTokens(of:truncate:)``),
    /// computed together in packed passes.
    public func embeddings(ofInputs inputs: [[Int32]]) throws -> [[Float]] {
        try encoder.embeddings(of: inputs)
    }

    /// The tokens `text` is embedded as (see ``embedding(of:truncate:)``).
    public func inputTokens(of text: String, truncate: Bool = false) throws -> [Int32] {
        try inputTokens(ofTokens: tokenizer.encode(text, addSpecial: true, parseSpecial: true), truncate: truncate)
    }

    /// Client tokens checked against the vocabulary, and cut to the context with `truncate`
    /// (otherwise a longer input is refused).
    public func inputTokens(ofTokens input: [Int32], truncate: Bool = false) throws -> [Int32] {
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
        return tokens
    }
}

extension EmbeddingModel {
    /// Whether the model is a reranker (a cross-encoder with a classification head).
    public var ranks: Bool { encoder.ranks }
    /// Whether the model makes embeddings (a file whose pooling is `rank` only scores pairs).
    public var embeds: Bool { pooling != .rank }

    /// The relevance of `document` to `query`, as llama-server's `/v1/rerank` scores it: the
    /// pair tokenized by ``pairTokens(query:document:)``, through the encoder and its
    /// classification head (the raw score, no sigmoid). `truncate` shortens a pair longer than
    /// the context by cutting the document's end (its closing special token kept); otherwise
    /// such a pair is refused. `documentTokenLimit` keeps at most that many of the document's
    /// tokens (Cohere's `max_tokens_per_doc`).
    public func relevance(query: String, document: String, truncate: Bool = true,
                          documentTokenLimit: Int? = nil) throws -> (score: Float, tokenCount: Int) {
        let tokens = try rankingTokens(query: query, document: document, truncate: truncate, documentTokenLimit: documentTokenLimit)
        return (try encoder.relevance(of: tokens), tokens.count)
    }

    /// The relevance scores of pairs already made into tokens (``rankingTokens(query:document:truncate:documentTokenLimit:)``),
    /// computed together in packed passes.
    public func relevances(ofInputs inputs: [[Int32]]) throws -> [Float] {
        try encoder.relevances(of: inputs)
    }

    /// The tokens a query–document pair is scored as (see ``relevance(query:document:truncate:documentTokenLimit:)``).
    public func rankingTokens(query: String, document: String, truncate: Bool = true, documentTokenLimit: Int? = nil) throws -> [Int32] {
        var (tokens, documentTokens) = pairTokens(query: query, document: document)
        if let documentTokenLimit, var range = documentTokens, range.count > documentTokenLimit {
            tokens.removeSubrange(range.lowerBound + documentTokenLimit..<range.upperBound)
            range = range.lowerBound..<range.lowerBound + documentTokenLimit
            documentTokens = range
        }
        let limit = contextLength
        if tokens.count > limit {
            guard truncate, let range = documentTokens else {
                throw EngineError.promptTooLong(tokens: tokens.count, context: limit)
            }
            let excess = tokens.count - limit
            guard excess < range.count else {
                throw EngineError.invalidOption("query", "\(tokens.count - range.count) tokens with the pair's special tokens, too long to pair with any document in a context of \(limit) tokens")
            }
            tokens.removeSubrange(range.upperBound - excess..<range.upperBound)
        }
        guard !tokens.isEmpty else { throw EngineError.emptyPrompt }
        return tokens
    }

    /// The query and document as one input, as llama-server's `format_prompt_rerank` builds it:
    /// the model's `tokenizer.chat_template.rerank` with `{query}` and `{document}` replaced,
    /// tokenized with special tokens parsed; without one, `[BOS] query [EOS] [SEP] document [EOS]`,
    /// each special token where the vocabulary asks for it (EOS falls back to the separator).
    /// Also the document's token range, where the input has one to shorten.
    public func pairTokens(query: String, document: String) -> (tokens: [Int32], document: Range<Int>?) {
        if let template = file["tokenizer.chat_template.rerank"]?.asString {
            let prompt = template.replacingOccurrences(of: "{query}", with: query)
                .replacingOccurrences(of: "{document}", with: document)
            return (tokenizer.encode(prompt, addSpecial: false, parseSpecial: true), nil)
        }
        let flags = tokenizer.pairSpecials
        let end = tokenizer.eosTokenID ?? tokenizer.separatorTokenID
        var tokens: [Int32] = []
        if flags.bos, let bos = tokenizer.bosTokenID { tokens.append(bos) }
        tokens += tokenizer.encode(query, addSpecial: false, parseSpecial: false)
        if flags.eos, let end { tokens.append(end) }
        if flags.separator, let separator = tokenizer.separatorTokenID { tokens.append(separator) }
        let start = tokens.count
        tokens += tokenizer.encode(document, addSpecial: false, parseSpecial: false)
        let range = start..<tokens.count
        if flags.eos, let end { tokens.append(end) }
        return (tokens, range)
    }
}

/// How an embedding model pools its token states (`Models.PoolingType`), for the targets above.
public typealias PoolingType = Models.PoolingType
