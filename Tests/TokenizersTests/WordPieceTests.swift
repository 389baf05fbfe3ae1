import Foundation
import Testing

@testable import Tokenizers

/// WordPiece (`tokenizer.ggml.model = "bert"`) against llama.cpp and Hugging Face `tokenizers`.
@Suite struct WordPieceTests {
    /// all-MiniLM-L6-v2's vocabulary as scripts/convert-bert-to-gguf.py writes it, with the ids
    /// llama.cpp and Hugging Face give each test string (scripts/reference/make-embedding-fixtures.py).
    struct Fixture {
        let vocabulary: Vocabulary
        let cases: [(text: String, huggingFace: [Int32], llamaCpp: [Int32]?)]
    }

    static func loadFixture() throws -> Fixture {
        let url = TestResources.fixtures.appendingPathComponent("wordpiece-all-minilm.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        guard let object, let tokens = object["tokens"] as? [String], let types = object["token_types"] as? [Int],
            let cases = object["cases"] as? [[String: Any]]
        else { throw TestResources.Missing(description: "\(url.path) is not a WordPiece fixture") }
        // The special ids the converter writes for this vocabulary (BERT's: [CLS] 101, [SEP] 102 …).
        let vocabulary = Vocabulary(
            model: .wordPiece, tokens: tokens, tokenTypes: types.map(Int32.init), bosTokenID: 101, eosTokenID: 102,
            unknownTokenID: 100, paddingTokenID: 0, addBOS: true, addEOS: true, separatorTokenID: 102,
            lowercase: object["lowercase"] as? Bool)
        return Fixture(
            vocabulary: vocabulary,
            cases: try cases.map { entry in
                guard let text = entry["text"] as? String, let hf = entry["huggingface"] as? [Int] else {
                    throw TestResources.Missing(description: "a case in \(url.path) lacks text or ids")
                }
                return (text, hf.map(Int32.init), (entry["llamacpp"] as? [Int])?.map(Int32.init))
            })
    }

    @Test func matchesLlamaCppAndHuggingFaceOnEveryString() throws {
        let fixture = try Self.loadFixture()
        let tokenizer = try Tokenizer(vocabulary: fixture.vocabulary)
        #expect(tokenizer.model == .wordPiece)
        #expect(fixture.cases.count >= 25)
        var comparedWithLlamaCpp = 0
        for (text, huggingFace, llamaCpp) in fixture.cases {
            let ids = tokenizer.encode(text)
            if let llamaCpp {
                #expect(ids == llamaCpp, "llama.cpp: \(text.debugDescription)")
                comparedWithLlamaCpp += 1
            }
            #expect(ids == huggingFace, "Hugging Face: \(text.debugDescription)")
        }
        #expect(comparedWithLlamaCpp >= 25)
    }

    @Test func addsClassifierAndSeparatorOnlyWithSpecialTokens() throws {
        let tokenizer = try Tokenizer(vocabulary: try Self.loadFixture().vocabulary)
        #expect(tokenizer.encode("hello") == [101, 7592, 102])
        #expect(tokenizer.encode("hello", addSpecial: false) == [7592])
        #expect(tokenizer.encode("") == [101, 102])
        // Spelled special tokens stay text when special parsing is off.
        #expect(tokenizer.encode("[SEP]", addSpecial: false, parseSpecial: false) == [1031, 19802, 1033])
        #expect(tokenizer.encode("[SEP]", addSpecial: false, parseSpecial: true) == [102])
    }

    @Test func decodesPhantomSpacesBackToWords() throws {
        let tokenizer = try Tokenizer(vocabulary: try Self.loadFixture().vocabulary)
        let ids = tokenizer.encode("Tokenization works, mostly.")
        #expect(tokenizer.decode(ids) == "tokenization works , mostly .")
    }

    /// A toy vocabulary: continuation pieces, an unknown word, casing and accents by flag.
    @Test func greedyLongestMatchWithUnknownWords() throws {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁un", "▁unaffable", "aff", "able", "▁Café", "▁cafe", "!", "▁!"]
        let types: [Int32] = [3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1]
        func tokenizer(lowercase: Bool?, stripAccents: Bool? = nil) throws -> Tokenizer {
            try Tokenizer(vocabulary: Vocabulary(
                model: .wordPiece, tokens: tokens, tokenTypes: types, bosTokenID: 2, unknownTokenID: 1,
                separatorTokenID: 3, lowercase: lowercase, stripAccents: stripAccents))
        }
        let lower = try tokenizer(lowercase: nil)
        // "unaffable" as a whole beats "un" + "aff" + "able"; "unaffablex" matches "▁unaffable" then
        // fails on "x", so the whole word is [UNK]; "!" splits off as its own word ("▁!").
        #expect(lower.encode("UnAffable unaffablex!", addSpecial: false) == [5, 1, 11])
        #expect(lower.encode("unaff", addSpecial: false) == [4, 6])
        // Lowercasing strips accents too unless the file says otherwise.
        #expect(lower.encode("CAFÉ", addSpecial: false) == [9])
        let keepsAccents = try tokenizer(lowercase: true, stripAccents: false)
        #expect(keepsAccents.encode("café", addSpecial: false) == [1])
        let cased = try tokenizer(lowercase: false)
        #expect(cased.encode("Café cafe", addSpecial: false) == [8, 9])
        #expect(cased.encode("x", addSpecial: true) == [2, 1, 3])
    }
}
