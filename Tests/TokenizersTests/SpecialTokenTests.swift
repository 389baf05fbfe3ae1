import Testing
import Tokenizers

struct SpecialTokenTests {
    static func chatVocabulary(modelName: String? = nil) -> Vocabulary {
        SyntheticVocabularies.bytePairs(
            special: [("<|im_start|>", .control), ("<|im_end|>", .control), ("<tool>", .userDefined)],
            preTokenizer: "qwen2")
    }

    @Test("control tokens are parsed from text only with parseSpecial")
    func controlTokens() throws {
        let tokenizer = try Tokenizer(vocabulary: Self.chatVocabulary())
        let start = tokenizer.tokenID(forText: "<|im_start|>")!
        let end = tokenizer.tokenID(forText: "<|im_end|>")!
        #expect(tokenizer.encode("<|im_start|>hi<|im_end|>", addSpecial: false) == [start, 104, 105, end])
        let plain = tokenizer.encode("<|im_start|>hi<|im_end|>", addSpecial: false, parseSpecial: false)
        #expect(!plain.contains(start) && !plain.contains(end))
        #expect(tokenizer.decode(plain) == "<|im_start|>hi<|im_end|>")
        // Partial spellings stay text.
        #expect(!tokenizer.encode("<|im_sta", addSpecial: false).contains(start))
    }

    @Test("user-defined tokens are split out even without parseSpecial")
    func userDefinedTokens() throws {
        let tokenizer = try Tokenizer(vocabulary: Self.chatVocabulary())
        let tool = tokenizer.tokenID(forText: "<tool>")!
        #expect(tokenizer.encode("a<tool>b", addSpecial: false, parseSpecial: false) == [97, tool, 98])
        #expect(tokenizer.encode("a<tool>b", addSpecial: false, parseSpecial: true) == [97, tool, 98])
        // User-defined tokens always print; control tokens only when rendered.
        #expect(tokenizer.decode([97, tool, 98]) == "a<tool>b")
        let end = tokenizer.tokenID(forText: "<|im_end|>")!
        #expect(tokenizer.decode([97, end]) == "a")
        #expect(tokenizer.decode([97, end], renderSpecial: true) == "a<|im_end|>")
    }

    @Test("longer special tokens are cut out first, even when a shorter one starts earlier")
    func longestFirst() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(
            special: [("xA", .userDefined), ("ABC", .userDefined)]))
        let abc = tokenizer.tokenID(forText: "ABC")!
        // llama.cpp cuts "ABC" out of every fragment before it looks for "xA".
        #expect(tokenizer.encode("xABC", addSpecial: false) == [120, abc])
        #expect(tokenizer.encode("xAxABC", addSpecial: false) == [tokenizer.tokenID(forText: "xA")!, 120, abc])
    }

    @Test("end-of-generation tokens are recognised by text and become control tokens")
    func endOfGeneration() throws {
        // "<|im_end|>" typed normal, as some conversions leave it.
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(
            special: [("<|im_end|>", .normal), ("<|endoftext|>", .control)], preTokenizer: "qwen2"))
        let end = tokenizer.tokenID(forText: "<|im_end|>")!
        let endOfText = tokenizer.tokenID(forText: "<|endoftext|>")!
        #expect(tokenizer.isEndOfGeneration(end))
        #expect(tokenizer.isEndOfGeneration(endOfText))
        #expect(tokenizer.eotTokenID == end)
        #expect(tokenizer.isControl(end))
        #expect(!tokenizer.isEndOfGeneration(97))
        #expect(tokenizer.encode("a<|im_end|>", addSpecial: false) == [97, end])
    }

    @Test("Phi-3 strips whitespace after its special tokens")
    func phi3Stripping() throws {
        func tokenizer(named name: String?) throws -> Tokenizer {
            try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(
                pieces: [("▁", -1), ("a", 0)], special: [("<|user|>", .userDefined)], modelName: name))
        }
        let phi = try tokenizer(named: "Phi3")
        let user = phi.tokenID(forText: "<|user|>")!
        #expect(phi.encode("<|user|>  \n a", addSpecial: false) == [user] + phi.ids("a"))
        let other = try tokenizer(named: "Other")
        #expect(other.encode("<|user|>  \n a", addSpecial: false).count > 2)
    }

    @Test("BOS and EOS are added as the vocabulary says")
    func addSpecial() throws {
        var vocabulary = SyntheticVocabularies.bytePairs(special: [("<bos>", .control), ("<eos>", .control)])
        vocabulary.bosTokenID = 256
        vocabulary.eosTokenID = 257
        vocabulary.addBOS = true
        vocabulary.addEOS = true
        let tokenizer = try Tokenizer(vocabulary: vocabulary)
        #expect(tokenizer.encode("a") == [256, 97, 257])
        #expect(tokenizer.encode("a", addSpecial: false) == [97])
        #expect(tokenizer.encode("") == [256, 257])
        #expect(tokenizer.isEndOfGeneration(257))
    }
}
