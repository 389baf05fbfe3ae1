import Models

extension LoadedModel {
    /// A sentence embedding of `text`: the mean of the model's final-normed hidden states over
    /// its tokens, scaled to unit length (what Ollama's `/api/embed` returns for a model without
    /// its own pooling). Each call uses a fresh cache, so it never disturbs a conversation.
    /// `truncate` keeps the first `maximumTokens` tokens of a longer input (Ollama's default)
    /// instead of refusing it.
    public func embedding(of text: String, maximumTokens: Int, truncate: Bool = false) throws -> (vector: [Float], tokenCount: Int) {
        try embedding(ofTokens: tokenizer.encode(text, addSpecial: true, parseSpecial: false), maximumTokens: maximumTokens, truncate: truncate)
    }

    /// The embedding of tokens the client already has (ids of this model's vocabulary).
    public func embedding(ofTokens input: [Int32], maximumTokens: Int, truncate: Bool = false) throws -> (vector: [Float], tokenCount: Int) {
        guard !input.isEmpty else { throw EngineError.emptyPrompt }
        let vocabularySize = tokenizer.vocabularySize
        if let bad = input.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw EngineError.invalidToken(bad, vocabularySize: vocabularySize)
        }
        let limit = min(maximumTokens, trainedContextLength)
        var tokens = input
        if tokens.count > limit {
            guard truncate else { throw EngineError.promptTooLong(tokens: tokens.count, context: limit) }
            tokens.removeLast(tokens.count - limit)
        }
        let cache = try model.makeCache(capacity: tokens.count)
        var vector = try model.forward(tokens, cache: cache, logits: .meanHiddenState)
        var squares: Double = 0
        for value in vector { squares += Double(value) * Double(value) }
        let norm = Float(squares.squareRoot())
        if norm > 0 { for i in vector.indices { vector[i] /= norm } }
        return (vector, tokens.count)
    }
}
