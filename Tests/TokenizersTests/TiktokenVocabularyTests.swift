import Foundation
import Testing
import Tokenizers

/// tiktoken rank files: OpenAI's ids back to text (what `/v1/embeddings` does with the ids the
/// OpenAI SDK's clients send).
@Suite struct TiktokenVocabularyTests {
    static func line(_ bytes: [UInt8], _ rank: Int) -> String { "\(Data(bytes).base64EncodedString()) \(rank)" }

    @Test func decodesRanksAndSpecialTokensAcrossSplitCharacters() throws {
        // "é" is two bytes split over two tokens, as byte-level BPE splits characters.
        let file = [Self.line(Array("Hello".utf8), 0), Self.line([0x20, 0xC3], 1), Self.line([0xA9], 2), Self.line(Array("!".utf8), 3)]
            .joined(separator: "\n") + "\n"
        let vocabulary = try TiktokenVocabulary(contents: file, special: [100: "<|endoftext|>"])
        #expect(vocabulary.count == 4)
        #expect(try vocabulary.decode([0, 1, 2, 3]) == "Hello é!")
        #expect(try vocabulary.decode([0, 100]) == "Hello<|endoftext|>")
        #expect(throws: TiktokenError.self) { try vocabulary.decode([4]) }
        #expect(throws: TiktokenError.self) { try vocabulary.decode([-1]) }
    }

    @Test func malformedFilesAreRefused() {
        #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contents: "") }
        #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contents: "SGVsbG8= 1\n") }
        #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contents: "not base64! 0\n") }
        #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contents: "SGVsbG8=\n") }
    }
}
