import Foundation
import Testing
import Tokenizers

/// The catalog models' own vocabularies against golden ids from llama.cpp's `llama-tokenize`
/// (Fixtures/tokenizer-expected-*.json, made by scripts/gen-tokenizer-fixtures.py).
struct CatalogModelTests {
    struct Expected: Decodable {
        struct Case: Decodable {
            let string: Int
            let parse_special: Bool
            let ids: [Int32]
        }
        let model: String
        let cases: [Case]
    }

    static func strings() throws -> [String] {
        let data = try Data(contentsOf: TestResources.fixtures.appendingPathComponent("tokenizer-strings.json"))
        return try JSONDecoder().decode([String].self, from: data)
    }

    static func expected(_ model: String) throws -> Expected {
        let name = "tokenizer-expected-\(model.replacingOccurrences(of: ":", with: "-")).json"
        let data = try Data(contentsOf: TestResources.fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    static let models = ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b"]

    @Test("identical ids to llama-tokenize", arguments: models)
    func goldenIDs(model: String) throws {
        let strings = try Self.strings()
        let expected = try Self.expected(model)
        #expect(expected.model == model)
        #expect(expected.cases.count >= strings.count)
        let tokenizer = try TestResources.tokenizer(at: TestResources.catalogModel(model))
        var failures = 0
        for testCase in expected.cases {
            let text = try #require(strings.indices.contains(testCase.string) ? strings[testCase.string] : nil)
            // llama-tokenize passes add_special = the model's add_bos_token.
            let ids = tokenizer.encode(text, addSpecial: tokenizer.addsBOS, parseSpecial: testCase.parse_special)
            if ids != testCase.ids {
                failures += 1
                Issue.record("""
                    \(model) parse_special=\(testCase.parse_special): \(String(reflecting: text))
                      expected \(testCase.ids)
                      got      \(ids)
                    """)
            }
        }
        #expect(failures == 0, "\(failures) of \(expected.cases.count) cases differ")
    }

    @Test("decoding the tokens of plain text gives the text back", arguments: models)
    func roundTrip(model: String) throws {
        let tokenizer = try TestResources.tokenizer(at: TestResources.catalogModel(model))
        // None of these models cleans up tokenization spaces or adds a space prefix, so plain text
        // (no special-token spellings, and no "▁", which SentencePiece cannot tell from a space)
        // must survive exactly.
        for text in try Self.strings() where !text.contains("<") && !text.contains("[") && !text.contains("▁") {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(ids) == text, "\(model): \(String(reflecting: text))")
        }
    }

    @Test("end-of-generation tokens of the catalog models")
    func endOfGeneration() throws {
        let qwen = try TestResources.tokenizer(at: TestResources.catalogModel("qwen2.5-coder:0.5b"))
        let imEnd = try #require(qwen.tokenID(forText: "<|im_end|>"))
        #expect(qwen.eosTokenID == imEnd)
        #expect(qwen.isEndOfGeneration(imEnd))
        #expect(qwen.isEndOfGeneration(try #require(qwen.tokenID(forText: "<|endoftext|>"))))
        #expect(!qwen.isEndOfGeneration(try #require(qwen.tokenID(forText: "<|im_start|>"))))
        #expect(!qwen.addsBOS)

        let gemma = try TestResources.tokenizer(at: TestResources.catalogModel("gemma3:270m"))
        let endOfTurn = try #require(gemma.tokenID(forText: "<end_of_turn>"))
        #expect(gemma.eotTokenID == endOfTurn)
        #expect(gemma.isEndOfGeneration(endOfTurn))
        #expect(gemma.isEndOfGeneration(try #require(gemma.eosTokenID)))
        #expect(gemma.addsBOS)
        #expect(gemma.encode("Hi").first == gemma.bosTokenID)

        let smol = try TestResources.tokenizer(at: TestResources.catalogModel("smollm2:135m"))
        #expect(smol.isEndOfGeneration(try #require(smol.tokenID(forText: "<|im_end|>"))))
        #expect(smol.isEndOfGeneration(try #require(smol.tokenID(forText: "<|endoftext|>"))))
    }
}
