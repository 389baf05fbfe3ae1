import Testing
import Grammar
import JSON

/// Deterministic random numbers (SplitMix64), so every test run sees the same cases.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Token i < 256 is byte i; token 256 ends generation.
let byteVocabulary = TokenVocabulary(pieces: (0..<256).map { [UInt8($0)] } + [nil], endOfGeneration: [256])
let byteEndToken: Int32 = 256

/// Feeds `text` byte by byte; true when every byte is accepted and the grammar can end there.
func matches(_ grammar: Grammar, _ text: String) -> Bool {
    matches(grammar, bytes: Array(text.utf8))
}

func matches(_ grammar: Grammar, bytes: [UInt8]) -> Bool {
    var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
    for byte in bytes where !matcher.accept(Int32(byte)) { return false }
    return matcher.canEnd
}

/// A vocabulary like a real BPE one in miniature: every single byte, plus multi-byte pieces
/// that cross grammar boundaries (JSON punctuation runs, words with leading spaces, digits,
/// escapes, whole and split UTF-8 characters). Token `count` - 1 ends generation.
func syntheticVocabulary(extra: Int, seed: UInt64 = 7) -> TokenVocabulary {
    var random = SeededRandom(seed: seed)
    var pieces: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
    let fragments = ["\"", "\",", "\"}", "\"},", "\"]", "\":", "\": ", ",\"", ", \"", "{\"", " {\"", "{", "}", "}}", "},", "[", "]", "],", "[\"",
                     "[{\"", "\n", "\n  ", "  ", " ", ":", ",", "\\", "\\n", "\\\"", "\\u00", "\\\\", "true", "false", "null", "-", ".", "e", "E+",
                     "0", "1", "12", "123", "2024", "-0", "0.", ".5", "é", "中文", "😀", "ß", "name", "age", "id", "type", "value", "items", " the",
                     " a", "ing", "tion", "http", "://", "@", "-01", "T", "Z", ":00"]
    let words = ["hello", "world", "json", "schema", "grammar", "token", "alpha", "beta", "gamma", "delta", "x", "y", "z", "foo", "bar"]
    let utf8Samples: [[UInt8]] = [Array("é".utf8), Array("中".utf8), Array("😀".utf8), Array("ü".utf8)]
    for fragment in fragments { pieces.append(Array(fragment.utf8)) }
    while pieces.count < 256 + extra {
        switch random.next() % 6 {
        case 0:
            let a = fragments.randomElement(using: &random)!, b = fragments.randomElement(using: &random)!
            pieces.append(Array((a + b).utf8))
        case 1:
            pieces.append(Array(((random.next() % 2 == 0 ? " " : "") + words.randomElement(using: &random)!).utf8))
        case 2:
            pieces.append(Array(String(random.next() % 10_000).utf8))
        case 3:
            // Whole or split UTF-8 characters, sometimes after ASCII.
            let sample = utf8Samples.randomElement(using: &random)!
            let cut = Int(random.next() % UInt64(sample.count)) + 1
            let start = Int(random.next() % UInt64(cut))
            pieces.append((random.next() % 2 == 0 ? [UInt8(ascii: "a")] : []) + Array(sample[start..<cut]))
        case 4:
            let length = Int(random.next() % 6) + 2
            pieces.append((0..<length).map { _ in UInt8(32 + random.next() % 95) })
        default:
            let word = words.randomElement(using: &random)!
            pieces.append(Array((fragments.randomElement(using: &random)! + word + fragments.randomElement(using: &random)!).utf8))
        }
    }
    pieces.append(nil)
    return TokenVocabulary(pieces: pieces, endOfGeneration: [Int32(pieces.count - 1)])
}

let sharedSyntheticVocabulary = syntheticVocabulary(extra: 3_000)

/// Picks random allowed tokens until the grammar can end (then stops with some probability),
/// leaning towards closing tokens later on so walks finish. Returns the text and whether it ended.
func randomWalk(_ grammar: Grammar, vocabulary: TokenVocabulary, seed: UInt64, steps: Int = 200) -> (text: [UInt8], ended: Bool) {
    var random = SeededRandom(seed: seed)
    var matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
    var text: [UInt8] = []
    let endToken = Int32(vocabulary.count - 1)
    for step in 0..<steps {
        if matcher.canEnd && (matcher.mustEnd || random.next() % 4 == 0 || step > steps / 2) { return (text, true) }
        let allowed = matcher.allowedTokens().filter { $0 != endToken }
        guard !allowed.isEmpty else { return (text, matcher.canEnd) }
        var choices = allowed
        if step > steps / 4 {
            let closing = allowed.filter { token in
                let piece = pieceBytes(vocabulary, token)
                return piece.contains(UInt8(ascii: "\"")) || piece.contains(UInt8(ascii: "}")) || piece.contains(UInt8(ascii: "]"))
            }
            if !closing.isEmpty && random.next() % 3 != 0 { choices = closing }
        }
        let token = choices.randomElement(using: &random)!
        text += pieceBytes(vocabulary, token)
        guard matcher.accept(token) else { return (text, false) }
    }
    return (text, matcher.canEnd)
}

/// The bytes of a synthetic vocabulary's token (built the same way, so recomputed here).
func pieceBytes(_ vocabulary: TokenVocabulary, _ token: Int32) -> [UInt8] {
    vocabulary.piece(token) ?? []
}

/// `#expect` for conditions with side effects (the macro cannot take mutating calls).
func check(_ condition: Bool, _ message: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, Comment(rawValue: message()), sourceLocation: sourceLocation)
}
