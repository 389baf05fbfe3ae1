import Foundation
import Testing
@testable import Tokenizers

/// The GPT-4o / o200k pre-tokenizer (gpt-oss, Llama 4) cuts text where llama.cpp does: golden
/// piece lengths from scripts/reference/gpt4o-splits.py, which runs llama.cpp's regex on its
/// category-collapsed text with a backtracking engine of the same semantics.
@Suite struct GPT4oSplitTests {
    struct Case: Decodable {
        let text: String
        let lengths: [Int]
    }

    static func cases() throws -> [Case] {
        let url = TestResources.fixtures.appendingPathComponent("gpt4o-splits.json")
        return try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    }

    @Test func piecesMatchLlamaCpp() throws {
        let splitter = try PreTokenizer.named("gpt-4o")
        #expect(!splitter.cleanSpaces)
        let cases = try Self.cases()
        #expect(cases.count >= 20)
        for testCase in cases {
            let codepoints = testCase.text.unicodeScalars.map(\.value)
            let lengths = codepoints.withUnsafeBufferPointer { splitter.split($0) }
            #expect(lengths == testCase.lengths, "\(testCase.text.debugDescription)")
        }
    }

    @Test func llama4SharesTheSplitter() throws {
        let text = Array("HelloWorld DON'T 12345".unicodeScalars.map(\.value))
        let gpt4o = try PreTokenizer.named("gpt-4o"), llama4 = try PreTokenizer.named("llama4")
        #expect(text.withUnsafeBufferPointer { gpt4o.split($0) } == text.withUnsafeBufferPointer { llama4.split($0) })
    }
}
