import Tokenizers

/// Tiny vocabularies built in the tests, so each rule can be checked in isolation.
enum SyntheticVocabularies {
    /// GPT-2's byte↔unicode alphabet (public algorithm, restated here so the tests do not reach
    /// into the library): printable Latin-1 bytes stand for themselves, the others for U+0100…
    static let byteLevelCharacters: [String] = {
        var result: [String] = []
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            let codepoint = printable ? UInt32(byte) : next
            if !printable { next += 1 }
            result.append(String(Character(Unicode.Scalar(codepoint)!)))
        }
        return result
    }()

    /// The byte-level spelling of text ("Ġ" for a space, …).
    static func byteLevel(_ text: String) -> String {
        text.utf8.map { byteLevelCharacters[Int($0)] }.joined()
    }

    /// A byte-level BPE vocabulary: ids 0…255 are the single bytes (in byte order), then `extra`
    /// tokens (given in plain text, stored byte-level), then `special` tokens with their types.
    static func bytePairs(
        extra: [String] = [], merges: [(String, String)] = [], special: [(String, TokenType)] = [],
        preTokenizer: String = "gpt-2"
    ) -> Vocabulary {
        var tokens = byteLevelCharacters
        tokens += extra.map(byteLevel)
        var types = [Int32](repeating: TokenType.normal.rawValue, count: tokens.count)
        for (text, type) in special {
            tokens.append(text)
            types.append(type.rawValue)
        }
        return Vocabulary(
            model: .bytePairEncoding, tokens: tokens, tokenTypes: types,
            merges: merges.map { "\(byteLevel($0.0)) \(byteLevel($0.1))" }, preTokenizer: preTokenizer,
            bosTokenID: nil, eosTokenID: nil)
    }

    /// A SentencePiece vocabulary: `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`…`<0xFF>`,
    /// then `pieces` (spaces written as "▁") with their scores, then `special` tokens.
    static func sentencePiece(
        pieces: [(String, Float)], special: [(String, TokenType)] = [], addSpacePrefix: Bool = false,
        modelName: String? = nil
    ) -> Vocabulary {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [TokenType.unknown.rawValue, TokenType.control.rawValue, TokenType.control.rawValue]
        var scores: [Float] = [0, 0, 0]
        for byte in 0..<256 {
            tokens.append("<0x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2) + ">")
            types.append(TokenType.byte.rawValue)
            scores.append(0)
        }
        for (text, score) in pieces {
            tokens.append(text)
            types.append(TokenType.normal.rawValue)
            scores.append(score)
        }
        for (text, type) in special {
            tokens.append(text)
            types.append(type.rawValue)
            scores.append(0)
        }
        return Vocabulary(
            model: .sentencePiece, tokens: tokens, scores: scores, tokenTypes: types,
            addSpacePrefix: addSpacePrefix, modelName: modelName)
    }

    /// Id of a SentencePiece byte token in ``sentencePiece(pieces:special:addSpacePrefix:modelName:)``.
    static func byteToken(_ byte: UInt8) -> Int32 { 3 + Int32(byte) }
}

extension String {
    func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}

extension Tokenizer {
    /// Ids of vocabulary entries by text, for readable expectations.
    func ids(_ texts: String...) -> [Int32] {
        texts.map { tokenID(forText: $0) ?? -1 }
    }
}
