import Foundation

/// BERT's WordPiece tokenizer as llama.cpp runs it (`llm_tokenizer_wpm_session` in
/// src/llama-vocab.cpp) over a vocabulary in llama.cpp's "phantom space" form: a word-initial
/// piece is stored as "▁" + piece and a `##` continuation without its `##`, so one greedy
/// longest match over "▁" + word finds both kinds.
struct WordPieceNormalization: Sendable {
    /// `tokenizer.ggml.normalizer.lowercase` (llama.cpp's default: true).
    var lowercase: Bool
    /// `tokenizer.ggml.normalizer.strip_accents` (default: the lowercase flag): each code point is
    /// replaced by the first code point of its canonical decomposition and marks are dropped.
    var stripAccents: Bool
}

/// Splits text into words as llama.cpp's `preprocess` does: whitespace separates words; control
/// characters, NUL and U+FFFD vanish; punctuation, ASCII symbols and CJK ideographs are words of
/// their own; letters are lowercased and accents stripped as the vocabulary asks.
func wordPieceWords(_ text: UnsafeBufferPointer<UInt8>, normalization: WordPieceNormalization) -> [[UInt8]] {
    var words: [[UInt8]] = []
    var current: [UInt8] = []
    func finishWord() {
        if !current.isEmpty {
            words.append(current)
            current.removeAll(keepingCapacity: true)
        }
    }
    for original in UTF8Codec.decodeLeniently(text) {
        let codepoint = normalization.stripAccents ? firstCanonicalDecomposition(original) : original
        let flags = CodepointFlags.of(codepoint)
        if flags.isWhitespace {
            finishWord()
            continue
        }
        if codepoint == 0 || codepoint == 0xFFFD || flags.contains(.control) { continue }
        if normalization.stripAccents && flags.isMark { continue }
        let written = normalization.lowercase ? simpleLowercase(codepoint) : codepoint
        if flags.isPunctuation || (codepoint < 0x7F && flags.contains(.symbol)) || isCJKIdeograph(codepoint) {
            finishWord()
            UTF8Codec.append(written, to: &current)
            finishWord()
        } else {
            UTF8Codec.append(written, to: &current)
        }
    }
    finishWord()
    return words
}

/// Greedy longest-match WordPiece of each word, appending ids to `output`. A word any part of
/// which matches no piece becomes one `unknown` token (nothing when there is no unknown token).
func encodeWordPiece(
    _ text: UnsafeBufferPointer<UInt8>, store: VocabularyStore, normalization: WordPieceNormalization,
    longestToken: Int, unknown: Int32?, into output: inout [Int32]
) {
    var phantom: [UInt8] = []
    for word in wordPieceWords(text, normalization: normalization) {
        phantom.removeAll(keepingCapacity: true)
        phantom.append(contentsOf: [0xE2, 0x96, 0x81])  // "▁"
        phantom.append(contentsOf: word)
        let wordStart = output.count
        phantom.withUnsafeBufferPointer { bytes in
            var start = 0
            while start < bytes.count {
                var matched = false
                var end = min(bytes.count, start + longestToken + 1)
                while end > start {
                    if let id = store.tokenID(UnsafeBufferPointer(rebasing: bytes[start..<end])) {
                        output.append(id)
                        start = end
                        matched = true
                        break
                    }
                    end -= 1
                }
                if !matched {
                    output.removeSubrange(wordStart...)
                    return
                }
            }
        }
        if output.count == wordStart, let unknown { output.append(unknown) }
    }
}

/// llama.cpp's `is_chinese_char` (the CJK ranges BERT splits into single-character words,
/// including the 0x2B920 typo it shares with Hugging Face's Rust tokenizer).
func isCJKIdeograph(_ codepoint: UInt32) -> Bool {
    switch codepoint {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
        0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
        return true
    default:
        return false
    }
}

/// The first code point of the canonical decomposition (llama.cpp's table is
/// `unicodedata.normalize('NFD', c)[0]` per code point); ASCII decomposes to itself.
func firstCanonicalDecomposition(_ codepoint: UInt32) -> UInt32 {
    guard codepoint >= 0x80, let scalar = Unicode.Scalar(codepoint) else { return codepoint }
    let decomposed = String(Character(scalar)).decomposedStringWithCanonicalMapping
    return decomposed.unicodeScalars.first?.value ?? codepoint
}

/// One code point's lowercase (llama.cpp's table keeps the first code point of `str.lower()`).
func simpleLowercase(_ codepoint: UInt32) -> UInt32 {
    if codepoint < 0x80 {
        return (0x41...0x5A).contains(codepoint) ? codepoint + 0x20 : codepoint
    }
    guard let scalar = Unicode.Scalar(codepoint) else { return codepoint }
    return scalar.properties.lowercaseMapping.unicodeScalars.first?.value ?? codepoint
}
