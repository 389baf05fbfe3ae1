import Models

extension LoadedModel {
    /// A sentence embedding of `text`: the mean of the model's final-normed hidden states over
    /// its tokens, scaled to unit length (what Ollama's `/api/embed` returns for a model without
    /// its own pooling). Each call uses a fresh cache, so it never disturbs a conversation.
    public func embedding(of text: String, maximumTokens: Int) throws -> (vector: [Float], tokenCount: Int) {
        let tokens = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        guard !tokens.isEmpty else { throw EngineError.emptyPrompt }
        let limit = min(maximumTokens, trainedContextLength)
        guard tokens.count <= limit else { throw EngineError.promptTooLong(tokens: tokens.count, context: limit) }
        let cache = try model.makeCache(capacity: tokens.count)
        var vector = try model.forward(tokens, cache: cache, logits: .meanHiddenState)
        var squares: Double = 0
        for value in vector { squares += Double(value) * Double(value) }
        let norm = Float(squares.squareRoot())
        if norm > 0 { for i in vector.indices { vector[i] /= norm } }
        return (vector, tokens.count)
    }
}
