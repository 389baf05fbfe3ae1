/// One sequence's position in a grammar (a value type: copying it is cheap enough to do per token).
///
/// All matchers of a grammar and vocabulary share one cache of automaton states and masks, so
/// the second sequence in the same state gets its mask for the cost of a copy.
public struct GrammarMatcher: Sendable {
    private let engine: MatcherEngine
    private var location: MatcherLocation

    public init(grammar: Grammar, vocabulary: TokenVocabulary) {
        engine = grammar.engine(for: vocabulary)
        let stacks = engine.initialStacks
        location = MatcherLocation(stacks: stacks, epoch: -1, state: 0,
                                   canEnd: stacks.contains([]), mustEnd: stacks == [[]])
    }

    public var vocabulary: TokenVocabulary { engine.vocabulary }

    /// Whether `token` may come next (end-of-generation tokens: exactly when `canEnd`).
    public func allows(_ token: Int32) -> Bool {
        let vocabulary = engine.vocabulary
        guard token >= 0, Int(token) < vocabulary.count else { return false }
        if vocabulary.isEndOfGeneration[Int(token)] { return location.canEnd }
        guard let piece = vocabulary.pieces[Int(token)], !piece.isEmpty else { return false }
        return engine.allows(location, bytes: piece)
    }

    /// Advances by `token`; returns false (state unchanged) when not allowed. An
    /// end-of-generation token is accepted when `canEnd` and leaves the state as it is.
    @discardableResult public mutating func accept(_ token: Int32) -> Bool {
        let vocabulary = engine.vocabulary
        guard token >= 0, Int(token) < vocabulary.count else { return false }
        if vocabulary.isEndOfGeneration[Int(token)] { return location.canEnd }
        guard let piece = vocabulary.pieces[Int(token)], !piece.isEmpty else { return false }
        return accept(bytes: piece)
    }

    /// Advances by raw text (used when a grammar is switched on mid-generation at a trigger
    /// string); false and unchanged when rejected.
    @discardableResult public mutating func accept(bytes: some Collection<UInt8>) -> Bool {
        if bytes.isEmpty { return true }
        guard let next = engine.advance(location, bytes: bytes) else { return false }
        location = next
        return true
    }

    /// Sets every logit of a token not allowed now to -infinity (logits.count == vocabulary.count).
    public func maskLogits(_ logits: inout [Float]) {
        let bits = engine.mask(location)
        let vocabulary = engine.vocabulary
        let count = min(logits.count, vocabulary.count)
        let canEnd = location.canEnd
        logits.withUnsafeMutableBufferPointer { logits in
            bits.withUnsafeBufferPointer { bits in
                vocabulary.isEndOfGeneration.withUnsafeBufferPointer { isEnd in
                    var word = 0
                    while word * 64 < count {
                        let value = bits[word]
                        let base = word * 64
                        let limit = min(64, count - base)
                        if value == 0 {
                            for offset in 0..<limit where !(canEnd && isEnd[base + offset]) { logits[base + offset] = -.infinity }
                        } else if value != ~0 {
                            for offset in 0..<limit where value >> UInt64(offset) & 1 == 0 && !(canEnd && isEnd[base + offset]) {
                                logits[base + offset] = -.infinity
                            }
                        }
                        word += 1
                    }
                }
            }
        }
        // Logits beyond the vocabulary are never valid tokens.
        if logits.count > count { for index in count..<logits.count { logits[index] = -.infinity } }
    }

    /// The tokens allowed now (for tests and diagnostics), ascending.
    public func allowedTokens() -> [Int32] {
        let bits = engine.mask(location)
        let vocabulary = engine.vocabulary
        var result: [Int32] = []
        for token in 0..<vocabulary.count {
            if vocabulary.isEndOfGeneration[token] {
                if location.canEnd { result.append(Int32(token)) }
            } else if bits[token >> 6] >> UInt64(token & 63) & 1 != 0 {
                result.append(Int32(token))
            }
        }
        return result
    }

    /// The output so far is a complete match (end-of-generation is allowed).
    public var canEnd: Bool { location.canEnd }

    /// Nothing can extend the output (only end-of-generation is allowed).
    public var mustEnd: Bool { location.mustEnd }
}
