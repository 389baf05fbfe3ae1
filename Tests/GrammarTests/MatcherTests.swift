import Grammar
import Testing

@Suite struct MatcherTests {
    @Test func byteByByteWithMultiByteCharacters() throws {
        let grammar = try Grammar(gbnf: "root ::= \"é\" [α-ω]+ \"😀\"?")
        #expect(matches(grammar, "éαβγ"))
        #expect(matches(grammar, "éω😀"))
        #expect(!matches(grammar, "éa"))
        #expect(!matches(grammar, "é"))
        // Invalid UTF-8 and a truncated character are refused.
        #expect(!matches(grammar, bytes: Array("é".utf8) + [0xCE]))
        #expect(!matches(grammar, bytes: Array("éα".utf8) + [0xFF]))
    }

    @Test func tokensSpanBoundariesAndSplitCharacters() throws {
        let grammar = try Grammar(gbnf: #"root ::= "{" "\"" [a-z]+ "\"" ":" [0-9]+ "}," " {\"" "中" "\"}""#)
        let pieces: [[UInt8]?] = [
            Array("{\"".utf8), Array("key".utf8), Array("\":".utf8), Array("12".utf8), Array("},".utf8),
            Array(" {\"".utf8), [0xE4], [0xB8, 0xAD], Array("\"}".utf8), nil, Array("x".utf8), [],
        ]
        let vocabulary = TokenVocabulary(pieces: pieces, endOfGeneration: [9])
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
        #expect(!matcher.allows(9) && !matcher.canEnd)
        #expect(!matcher.allows(11), "an empty piece is never allowed")
        for token: Int32 in [0, 1, 2, 3, 4, 5] { check(matcher.accept(token), "token \(token)") }
        #expect(matcher.allowedTokens() == [6], "only the first byte of 中 fits")
        check(matcher.accept(6))
        #expect(matcher.allowedTokens() == [7])
        check(matcher.accept(7))
        check(matcher.accept(8))
        #expect(matcher.canEnd && matcher.mustEnd)
        #expect(matcher.allowedTokens() == [9])
        check(matcher.accept(9), "end of generation is accepted when the grammar can end")
    }

    @Test func rejectionLeavesStateUnchanged() throws {
        let grammar = try Grammar(gbnf: "root ::= \"ab\" | \"ac\"")
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        check(matcher.accept(Int32(UInt8(ascii: "a"))))
        check(!matcher.accept(Int32(UInt8(ascii: "d"))))
        check(!matcher.accept(byteEndToken))
        check(!matcher.accept(bytes: Array("bx".utf8)), "a partly matching run is refused as a whole")
        check(matcher.accept(bytes: Array("c".utf8)))
        #expect(matcher.canEnd && matcher.mustEnd)
        check(!matcher.accept(Int32(UInt8(ascii: "c"))))
        #expect(!matcher.allows(-1) && !matcher.allows(100_000))
    }

    @Test func canEndWhileMoreIsPossible() throws {
        let grammar = try Grammar(gbnf: "root ::= [0-9]+")
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        #expect(!matcher.canEnd && !matcher.mustEnd && !matcher.allows(byteEndToken))
        matcher.accept(Int32(UInt8(ascii: "7")))
        #expect(matcher.canEnd && !matcher.mustEnd && matcher.allows(byteEndToken))
        #expect(matcher.allowedTokens() == Array(48...57).map(Int32.init) + [byteEndToken])
    }

    @Test func copiesAreIndependent() throws {
        let grammar = try Grammar(gbnf: "root ::= \"a\"+ \"b\"")
        var first = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        first.accept(bytes: Array("aa".utf8))
        var second = first
        check(second.accept(bytes: Array("b".utf8)))
        #expect(second.mustEnd && !first.canEnd)
        check(first.accept(bytes: Array("ab".utf8)))
    }

    @Test func maskLogits() throws {
        let grammar = try Grammar(gbnf: "root ::= [ab] \"c\"?")
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        var logits = [Float](repeating: 1, count: byteVocabulary.count)
        matcher.maskLogits(&logits)
        #expect(logits.indices.filter { logits[$0] > 0 } == [97, 98])
        matcher.accept(Int32(97))
        logits = [Float](repeating: 1, count: byteVocabulary.count)
        matcher.maskLogits(&logits)
        #expect(logits.indices.filter { logits[$0] > 0 } == [99, 256])
    }

    @Test func deepRecursionIsBoundedNotFatal() throws {
        let grammar = try Grammar(gbnf: "root ::= \"(\" root \")\" | \"x\"")
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        var accepted = 0
        for _ in 0..<3_000 where matcher.accept(Int32(UInt8(ascii: "("))) { accepted += 1 }
        #expect(accepted > 100 && accepted < 3_000, "nesting stops at the stack depth limit")
        check(matcher.accept(Int32(UInt8(ascii: "x"))))
    }

    @Test func ambiguityIsBoundedDeterministically() throws {
        // Every "a" doubles the ways to parse; the stack cap refuses, never hangs.
        let grammar = try Grammar(gbnf: "root ::= x*\nx ::= \"a\" | \"a\" \"a\" | \"a\" \"a\" \"a\"")
        var first = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        var second = first
        let text = Array(String(repeating: "a", count: 200).utf8)
        check(first.accept(bytes: text) == second.accept(bytes: text))
        #expect(first.canEnd == second.canEnd)
    }

    @Test func sharedGrammarAcrossVocabularies() throws {
        let grammar = try Grammar(gbnf: "root ::= \"hi\"")
        let other = TokenVocabulary(pieces: [Array("hi".utf8), Array("h".utf8), nil], endOfGeneration: [2])
        var a = GrammarMatcher(grammar: grammar, vocabulary: other)
        let b = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        #expect(a.allowedTokens() == [0, 1])
        #expect(b.allowedTokens() == [104])
        a.accept(0)
        #expect(a.allowedTokens() == [2])
    }
}
