import Testing
import Tokenizers

struct StreamingDecoderTests {
    static let tokenizer = try! Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(
        pieces: [("▁", -1), ("h", 0), ("i", 0), ("hi", -0.5)], special: [("<end>", .control)]))

    @Test("an emoji spelled with four byte tokens is emitted whole, after its last byte")
    func emojiAcrossByteTokens() {
        let tokenizer = Self.tokenizer
        let ids = tokenizer.encode("hi😀!", addSpecial: false)
        #expect(ids.count == 1 + 4 + 1)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        let outputs = ids.map { decoder.append($0) }
        #expect(outputs == ["hi", "", "", "", "😀", "!"])
        #expect(decoder.finish() == "")
    }

    @Test("bytes that can never complete a character are flushed as U+FFFD, not held")
    func invalidSequences() {
        var decoder = StreamingDecoder(tokenizer: Self.tokenizer)
        let byte = SyntheticVocabularies.byteToken
        #expect(decoder.append(byte(0xE2)) == "")
        #expect(decoder.pendingByteCount == 1)
        #expect(decoder.append(byte(0x41)) == "\u{FFFD}A")  // lead byte followed by ASCII
        #expect(decoder.append(byte(0x80)) == "\u{FFFD}")  // lone continuation byte
        #expect(decoder.append(byte(0xFF)) == "\u{FFFD}")  // never valid in UTF-8
        #expect(decoder.append(byte(0xE0)) == "")
        #expect(decoder.append(byte(0x80)) == "\u{FFFD}\u{FFFD}")  // overlong: E0 must be followed by A0…BF
        #expect(decoder.append(byte(0xF0)) == "")
        #expect(decoder.append(byte(0x9F)) == "")
        #expect(decoder.finish() == "\u{FFFD}")  // unfinished at the end
        #expect(decoder.pendingByteCount == 0)
    }

    @Test("control tokens are silent unless rendered")
    func controlTokens() {
        let end = Self.tokenizer.tokenID(forText: "<end>")!
        var quiet = StreamingDecoder(tokenizer: Self.tokenizer)
        #expect(quiet.append(end) == "")
        var loud = StreamingDecoder(tokenizer: Self.tokenizer, renderSpecial: true)
        #expect(loud.append(end) == "<end>")
    }

    @Test("streaming any token sequence gives the same text as decoding it at once")
    func matchesWholeDecode() {
        let tokenizer = Self.tokenizer
        var generator = SystemRandomNumberGenerator.seeded(42)
        for _ in 0..<200 {
            let ids = (0..<Int.random(in: 0...20, using: &generator)).map { _ in
                Int32.random(in: 0..<Int32(tokenizer.vocabularySize), using: &generator)
            }
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in ids {
                streamed += decoder.append(id)
                #expect(decoder.pendingByteCount <= 3)
            }
            streamed += decoder.finish()
            #expect(streamed == tokenizer.decode(ids), "\(ids)")
        }
    }

    @Test("a real model's byte tokens stream an emoji whole")
    func gemmaEmoji() throws {
        let gemma = try TestResources.tokenizer(at: TestResources.catalogModel("gemma3:270m"))
        let text = "Party 🥳🪅 time! 👩🏽‍🚀"
        let ids = gemma.encode(text, addSpecial: false)
        var decoder = StreamingDecoder(tokenizer: gemma)
        var streamed = ""
        for id in ids {
            let chunk = decoder.append(id)
            #expect(!chunk.unicodeScalars.contains("\u{FFFD}"))
            streamed += chunk
        }
        streamed += decoder.finish()
        #expect(streamed == text)
    }
}

extension SystemRandomNumberGenerator {
    /// A deterministic generator for reproducible property tests.
    static func seeded(_ seed: UInt64) -> SplitMix64 { SplitMix64(state: seed) }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
