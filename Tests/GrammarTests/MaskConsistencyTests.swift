import Grammar
import JSON
import Testing

/// `maskLogits` and `allowedTokens` must agree with `allows` on every token, in many states.
@Suite struct MaskConsistencyTests {
    static func grammars() throws -> [(String, Grammar)] {
        [
            ("jsonObject", Grammar.jsonObject()),
            ("schema", try Grammar.jsonSchema([
                "type": "object",
                "properties": ["name": ["type": "string", "maxLength": 8], "n": ["type": "integer", "minimum": -5, "maximum": 300],
                               "e": ["enum": ["é", "中文", 1.5]], "list": ["type": "array", "items": ["type": "boolean"]]],
                "required": ["name"],
            ])),
            ("gbnf", try Grammar(gbnf: GBNFParserTests.arithmetic)),
            ("regex", try Grammar(regex: "[a-f]+(\\d{2}|é中)*x?")),
            ("unicode", try Grammar(gbnf: "root ::= ([^\\x00-\\x7F] | [a-z])+ \"}\"")),
        ]
    }

    @Test func maskEqualsScalarAllows() throws {
        let vocabulary = sharedSyntheticVocabulary
        for (label, grammar) in try Self.grammars() {
            for seed in 0..<6 {
                var random = SeededRandom(seed: UInt64(seed) + 100)
                var matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
                for _ in 0..<12 {
                    var logits = [Float](repeating: 0, count: vocabulary.count)
                    matcher.maskLogits(&logits)
                    let masked = (0..<vocabulary.count).filter { logits[$0] == 0 }.map(Int32.init)
                    let scalar = (0..<vocabulary.count).map(Int32.init).filter { matcher.allows($0) }
                    #expect(masked == scalar, "\(label) seed \(seed)")
                    #expect(matcher.allowedTokens() == scalar, "\(label) seed \(seed)")
                    let choices = scalar.filter { $0 != Int32(vocabulary.count - 1) }
                    guard let token = choices.randomElement(using: &random) else { break }
                    check(matcher.accept(token))
                }
            }
        }
    }
}
