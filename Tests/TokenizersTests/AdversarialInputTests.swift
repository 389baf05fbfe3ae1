import Foundation
import Testing
import Tokenizers

/// Hostile or degenerate input must neither crash nor take super-linear time.
struct AdversarialInputTests {
    /// 1 MiB in optimized builds (scripts/test runs `swift test -c release`). Debug builds run the
    /// merge loops some 20× slower, so they use a quarter of it to keep `swift test` quick; the
    /// time bound below still catches anything quadratic (1 MiB² byte steps would take hours).
    #if DEBUG
    static let megabyte = 1 << 18
    #else
    static let megabyte = 1 << 20
    #endif

    /// Encodes and reports how long it took.
    static func timedEncode(_ tokenizer: Tokenizer, _ bytes: [UInt8]) -> (ids: [Int32], seconds: Double) {
        let start = ContinuousClock.now
        let ids = tokenizer.encode(bytes: bytes, addSpecial: false)
        let elapsed = ContinuousClock.now - start
        return (ids, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    @Test("a megabyte of one character, on every catalog vocabulary", .timeLimit(.minutes(5)),
          arguments: ["smollm2:135m", "gemma3:270m", "qwen2.5-coder:0.5b"])
    func megabyteOfOneCharacter(model: String) throws {
        let tokenizer = try TestResources.tokenizer(at: TestResources.catalogModel(model))
        for unit in ["a", " ", "\n", "7", "😀", "<"] {
            let bytes = Array(String(repeating: unit, count: Self.megabyte / unit.utf8.count).utf8)
            let (ids, seconds) = Self.timedEncode(tokenizer, bytes)
            #expect(!ids.isEmpty)
            #expect(tokenizer.decodeBytes(ids) == bytes, "\(model) \(String(reflecting: unit))")
            // Linear work takes well under a second here (a few seconds in a busy debug build); a
            // quadratic merge loop would take hours.
            #expect(seconds < 30, "\(model) \(String(reflecting: unit)): \(seconds) s")
        }
    }

    @Test("a megabyte of special-token spellings", .timeLimit(.minutes(5)))
    func megabyteOfSpecialTokens() throws {
        let tokenizer = try TestResources.tokenizer(at: TestResources.catalogModel("gemma3:270m"))
        let unit = "<start_of_turn><end_of_turn>  "
        let text = String(repeating: unit, count: Self.megabyte / unit.utf8.count)
        let ids = tokenizer.encode(text, addSpecial: false)
        #expect(ids.count >= 3 * (Self.megabyte / unit.utf8.count))
        #expect(tokenizer.decode(ids, renderSpecial: true) == text)
    }

    @Test("invalid UTF-8 never crashes; what can round-trip does")
    func invalidUTF8() throws {
        var generator = SystemRandomNumberGenerator.seeded(7)
        let spm = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(pieces: [("a", 0), ("▁", -1)]))
        let bpe = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(preTokenizer: "llama-bpe"))
        let samples: [[UInt8]] = [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
            [0xE2, 0x82], [0x80, 0x80, 0x80], [0x61, 0xC3], [0xF0, 0x9F, 0x98], Array("ok ✓".utf8),
        ] + (0..<300).map { _ in
            (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        for bytes in samples {
            let spmIDs = spm.encode(bytes: bytes, addSpecial: false)
            let bpeIDs = bpe.encode(bytes: bytes, addSpecial: false)
            // SentencePiece works on raw bytes and spells unknown ones with byte tokens, so the bytes
            // come back — unless a space was swallowed into an invalid sequence (the "▁" it became
            // is then split into byte tokens, exactly as in llama.cpp).
            if !bytes.contains(0x20) {
                #expect(spm.decodeBytes(spmIDs) == bytes)
            }
            #expect(spm.decodeBytes(spmIDs).count >= bytes.count)
            // Byte-level BPE reads undecodable bytes as U+FFFD (llama.cpp does the same); valid text
            // comes back exactly.
            if String(validating: bytes, as: UTF8.self) != nil {
                #expect(bpe.decodeBytes(bpeIDs) == bytes)
            } else {
                #expect(!bpeIDs.isEmpty)
            }
        }
    }

    @Test("an overlong NUL and a surrogate decode leniently, as in llama.cpp")
    func lenientDecoding() throws {
        let bpe = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs())
        // C0 80 is read as U+0000; ED A0 80 as the surrogate U+D800, re-encoded as the same bytes.
        #expect(bpe.encode(bytes: [0xC0, 0x80], addSpecial: false) == [0])
        #expect(bpe.encode(bytes: [0xED, 0xA0, 0x80], addSpecial: false) == [0xED, 0xA0, 0x80])
        // A lone continuation byte becomes U+FFFD (EF BF BD).
        #expect(bpe.encode(bytes: [0x80], addSpecial: false) == [0xEF, 0xBF, 0xBD])
    }

    @Test("a long word that merges all the way up", .timeLimit(.minutes(5)))
    func longWords() throws {
        // 200 000 = 3 125 × 64: with merges a+a, aa+aa, … up to 64 a's, the word ends as 3 125
        // copies of the longest token — after 196 875 merges, each one O(log n).
        let count = 200_000
        var merges: [(String, String)] = []
        var extra: [String] = []
        var piece = "a"
        while piece.count < 64 {
            merges.append((piece, piece))
            piece += piece
            extra.append(piece)
        }
        let text = String(repeating: "a", count: count)
        let bpe = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs(extra: extra, merges: merges))
        let longestBPE = try #require(bpe.tokenID(forText: SyntheticVocabularies.byteLevel(piece)))
        #expect(bpe.encode(text, addSpecial: false) == Array(repeating: longestBPE, count: count / 64))

        let spm = try Tokenizer(vocabulary: SyntheticVocabularies.sentencePiece(
            pieces: [("a", 0)] + extra.enumerated().map { ($1, Float(-$0)) }))
        let longestSPM = try #require(spm.tokenID(forText: piece))
        #expect(spm.encode(text, addSpecial: false) == Array(repeating: longestSPM, count: count / 64))
    }

    @Test("out-of-range ids decode to nothing instead of crashing")
    func badIDs() throws {
        let tokenizer = try Tokenizer(vocabulary: SyntheticVocabularies.bytePairs())
        #expect(tokenizer.decode([-1, 97, Int32.max, 98, Int32.min]) == "ab")
        #expect(tokenizer.piece(-5).isEmpty)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(1_000_000) == "")
        #expect(!tokenizer.isEndOfGeneration(-1))
    }
}
