import Testing
import Tokenizers

struct VocabularyValidationTests {
    @Test("malformed byte tokens are treated as normal text")
    func malformedByteTokens() throws {
        let tokens = ["<unk>", "<s>", "</s>", "<0x-1>", "<0xZZ>", "<0x4>", "<0x41>", "▁x"]
        let types: [Int32] = [2, 3, 3, 6, 6, 6, 6, 1]
        let tokenizer = try Tokenizer(vocabulary: Vocabulary(
            model: .sentencePiece, tokens: tokens, scores: Array(repeating: 0, count: tokens.count), tokenTypes: types))
        #expect(tokenizer.piece(3) == Array("<0x-1>".utf8))
        #expect(tokenizer.piece(4) == Array("<0xZZ>".utf8))
        #expect(tokenizer.piece(5) == Array("<0x4>".utf8))
        #expect(tokenizer.piece(6) == [0x41])
        #expect(tokenizer.warnings.filter { $0.contains("byte token") }.count == 3)
        // "A" falls back to the one valid byte token; bytes without one (the "▁" prefix, "é")
        // become <unk> rather than vanishing.
        #expect(tokenizer.encode("Aé", addSpecial: false) == [0, 0, 0, 6, 0, 0])
    }

    @Test("arrays shorter than the token list are rejected, naming the key")
    func shortArrays() {
        #expect(throws: TokenizerError.arrayTooShort(key: "tokenizer.ggml.scores", count: 1, tokenCount: 2)) {
            try Tokenizer(vocabulary: Vocabulary(model: .sentencePiece, tokens: ["a", "b"], scores: [0]))
        }
        #expect(throws: TokenizerError.arrayTooShort(key: "tokenizer.ggml.token_type", count: 0, tokenCount: 2)) {
            try Tokenizer(vocabulary: Vocabulary(model: .sentencePiece, tokens: ["a", "b"], tokenTypes: []))
        }
        let error = TokenizerError.arrayTooShort(key: "tokenizer.ggml.scores", count: 1, tokenCount: 2)
        #expect(error.description.contains("tokenizer.ggml.scores"))
    }

    @Test("empty vocabularies, missing merges and unknown pre-tokenizers are rejected")
    func rejected() {
        #expect(throws: TokenizerError.emptyVocabulary) {
            try Tokenizer(vocabulary: Vocabulary(model: .sentencePiece, tokens: []))
        }
        #expect(throws: TokenizerError.missingMerges) {
            try Tokenizer(vocabulary: Vocabulary(model: .bytePairEncoding, tokens: ["a"], preTokenizer: "gpt-2"))
        }
        #expect(throws: TokenizerError.unsupportedPreTokenizer("no-such-thing")) {
            try Tokenizer(vocabulary: Vocabulary(model: .bytePairEncoding, tokens: ["a"], merges: [], preTokenizer: "no-such-thing"))
        }
    }

    @Test("special ids out of range fall back to the defaults, with a warning")
    func outOfRangeIDs() throws {
        var vocabulary = SyntheticVocabularies.sentencePiece(pieces: [("a", 0)])
        vocabulary.bosTokenID = 1_000_000
        vocabulary.eosTokenID = -3
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(tokenizer.bosTokenID == 1)
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.warnings.contains { $0.contains("tokenizer.ggml.bos_token_id") })
        #expect(tokenizer.warnings.contains { $0.contains("tokenizer.ggml.eos_token_id") })
    }

    @Test("duplicate and empty token texts load; the last duplicate wins, empty ones never match")
    func duplicatesAndEmpty() throws {
        let tokens = SyntheticVocabularies.byteLevelCharacters + ["ab", "", "ab"]
        let tokenizer = try Tokenizer(vocabulary: Vocabulary(
            model: .bytePairEncoding, tokens: tokens, merges: ["a b"], preTokenizer: "gpt-2"))
        #expect(tokenizer.encode("ab", addSpecial: false) == [258])
        #expect(tokenizer.encode("", addSpecial: false) == [])
        #expect(tokenizer.warnings.count == 2)
    }

    @Test("merge rules without a separating space are ignored")
    func malformedMerges() throws {
        let tokenizer = try Tokenizer(vocabulary: Vocabulary(
            model: .bytePairEncoding, tokens: SyntheticVocabularies.byteLevelCharacters + ["ab"],
            merges: ["", "ab", " a", "a b"], preTokenizer: "gpt-2"))
        #expect(tokenizer.encode("ab", addSpecial: false) == [256])
    }
}
