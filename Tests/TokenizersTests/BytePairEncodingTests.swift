import Testing
import Tokenizers

struct BytePairEncodingTests {
    @Test("merge rules apply by rank, lowest first")
    func rankOrder() throws {
        let bcFirst = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(
            extra: ["ab", "bc"], merges: [("b", "c"), ("a", "b")]))
        #expect(bcFirst.encode("abc", addSpecial: false) == [97, bcFirst.tokenID(forText: "bc")!])

        let abFirst = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(
            extra: ["ab", "bc"], merges: [("a", "b"), ("b", "c")]))
        #expect(abFirst.encode("abc", addSpecial: false) == [abFirst.tokenID(forText: "ab")!, 99])
    }

    @Test("merges chain into longer tokens, spaces included")
    func chains() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(
            extra: ["he", "ll", "llo", "hello", " w", " wo"],
            merges: [("l", "l"), ("h", "e"), ("ll", "o"), ("he", "llo"), (" ", "w"), (" w", "o")]))
        let hello = tokenizer.tokenID(forText: SyntheticVocabularies.byteLevel("hello"))!
        let spaceWo = tokenizer.tokenID(forText: SyntheticVocabularies.byteLevel(" wo"))!
        #expect(tokenizer.encode("hello wo", addSpecial: false) == [hello, spaceWo])
        // Words never merge across pre-tokenizer boundaries: "o" and " w" are separate words.
        #expect(tokenizer.decode(tokenizer.encode("hello world", addSpecial: false)) == "hello world")
    }

    @Test("Llama 3 takes whole words that are tokens without merging (ignore_merges)")
    func ignoreMerges() throws {
        let llama = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(extra: ["abc"], preTokenizer: "llama-bpe"))
        #expect(llama.encode("abc", addSpecial: false) == [llama.tokenID(forText: "abc")!])
        #expect(llama.addsBOS)  // llama-bpe adds BOS unless the file says otherwise

        let gpt2 = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(extra: ["abc"], preTokenizer: "gpt-2"))
        #expect(gpt2.encode("abc", addSpecial: false) == [97, 98, 99])
        #expect(!gpt2.addsBOS)
    }

    @Test("every byte has a token, so any text round-trips")
    func byteLevelRoundTrip() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs())
        for text in ["", " ", "héllo wörld", "日本語", "😀👍🏽", "\t\n\r\u{0}\u{7F}", "a  b   c"] {
            let ids = tokenizer.encode(text, addSpecial: false)
            #expect(ids == text.utf8.map { Int32($0) })
            #expect(tokenizer.decode(ids) == text)
        }
    }

    @Test("GPT-2 vocabularies clean up spaces before punctuation when decoding")
    func cleanUpSpaces() throws {
        let gpt2 = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(preTokenizer: "gpt-2"))
        #expect(gpt2.decode(gpt2.encode("a , b . c ' d 's e", addSpecial: false)) == "a, b. c'd's e")
        // Qwen 2 keeps text as is.
        let qwen = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(preTokenizer: "qwen2"))
        #expect(qwen.decode(qwen.encode("a , b . c ' d 's e", addSpecial: false)) == "a , b . c ' d 's e")
    }
}
