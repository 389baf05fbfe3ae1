import Testing
import Tokenizers

struct SentencePieceTests {
    @Test("the highest-scoring pair merges first")
    func scoreOrder() throws {
        let preferAB = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [
            ("a", 0), ("b", 0), ("c", 0), ("ab", -1), ("bc", -2),
        ]))
        #expect(preferAB.encode("abc", addSpecial: false) == preferAB.ids("ab", "c"))

        let preferBC = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [
            ("a", 0), ("b", 0), ("c", 0), ("ab", -2), ("bc", -1),
        ]))
        #expect(preferBC.encode("abc", addSpecial: false) == preferBC.ids("a", "bc"))
    }

    @Test("equal scores merge the leftmost pair first; merged symbols keep merging")
    func tiesAndChains() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [
            ("a", 0), ("aa", -1), ("aaa", -0.5),
        ]))
        #expect(tokenizer.encode("aaa", addSpecial: false) == tokenizer.ids("aaa"))
        #expect(tokenizer.encode("aaaa", addSpecial: false) == tokenizer.ids("aaa", "a"))
        #expect(tokenizer.encode("aaaaa", addSpecial: false) == tokenizer.ids("aaa", "aa"))
    }

    @Test("characters outside the vocabulary fall back to <0xXX> byte tokens")
    func byteFallback() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [("a", 0)]))
        #expect(tokenizer.encode("aé", addSpecial: false)
            == tokenizer.ids("a") + [SyntheticVocabularies.byteToken(0xC3), SyntheticVocabularies.byteToken(0xA9)])
        #expect(tokenizer.decode(tokenizer.encode("aé", addSpecial: false)) == "aé")
        let emoji = tokenizer.encode("😀", addSpecial: false)
        #expect(emoji == [0xF0, 0x9F, 0x98, 0x80].map(SyntheticVocabularies.byteToken))
    }

    @Test("spaces are spelled ▁, with a space prefix at the start when the vocabulary asks")
    func spacePrefix() throws {
        let pieces: [(String, Float)] = [("▁", -3), ("a", 0), ("b", 0), ("▁a", -1), ("▁b", -1)]
        let prefixed = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: pieces, addSpacePrefix: true))
        #expect(prefixed.addsBOS)
        #expect(prefixed.encode("a b") == [1] + prefixed.ids("▁a", "▁b"))
        #expect(prefixed.encode("a b", addSpecial: false) == prefixed.ids("▁a", "▁b"))
        // Decoding removes the prefix again, from the first token only — as llama.cpp does, a
        // leading BOS token takes that place and the space stays.
        #expect(prefixed.decode(prefixed.ids("▁a", "▁b")) == "a b")
        #expect(prefixed.decode(prefixed.encode("a b", addSpecial: false)) == "a b")
        #expect(prefixed.decode(prefixed.encode("a b")) == " a b")

        let plain = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: pieces, addSpacePrefix: false))
        #expect(plain.encode("a b", addSpecial: false) == plain.ids("a", "▁b"))
        #expect(plain.decode(plain.ids("▁a", "▁b")) == " a b")
    }

    @Test("text after a special token gets the space prefix again")
    func prefixAfterSpecial() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(
            pieces: [("▁", -3), ("a", 0), ("▁a", -1)], special: [("<sep>", .control)], addSpacePrefix: true))
        #expect(tokenizer.encode("a<sep>a", addSpecial: false) == tokenizer.ids("▁a", "<sep>", "▁a"))
        #expect(tokenizer.encode("a<sep>a", addSpecial: false, parseSpecial: false).contains(tokenizer.ids("<sep>")[0]) == false)
    }

    @Test("byte tokens and ▁ decode to bytes and spaces; control tokens are hidden unless rendered")
    func pieces() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [("▁hi", 0)]))
        #expect(tokenizer.piece(tokenizer.ids("▁hi")[0]) == Array(" hi".utf8))
        #expect(tokenizer.piece(SyntheticVocabularies.byteToken(0x0A)) == [0x0A])
        #expect(tokenizer.piece(1) == [])
        #expect(tokenizer.piece(1, renderSpecial: true) == Array("<s>".utf8))
        #expect(tokenizer.decode([1, tokenizer.ids("▁hi")[0], 2]) == " hi")
        #expect(tokenizer.decode([1, tokenizer.ids("▁hi")[0], 2], renderSpecial: true) == "<s> hi</s>")
    }
}
