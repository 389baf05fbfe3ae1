import Grammar
import JSON

/// The first byte picks the source (GBNF, a regular expression, or a JSON Schema), the rest is
/// its text: compiling answers a grammar or a `GrammarError`, never crashes or hangs; a grammar
/// that compiles then constrains a matcher over a small vocabulary, fed its own allowed tokens.
func fuzzGrammar(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    guard count > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    let grammar: Grammar?
    switch bytes[0] % 3 {
    case 0: grammar = try? Grammar(gbnf: text)
    case 1: grammar = try? Grammar(regex: text)
    default:
        guard let schema = try? JSONParser.parse(bytes.dropFirst()) else { return 0 }
        grammar = try? Grammar.jsonSchema(schema)
    }
    guard let grammar else { return 0 }
    var matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
    // Walk a path the grammar allows, choosing tokens by the input's bytes.
    for step in 0..<16 {
        let allowed = matcher.allowedTokens()
        guard !allowed.isEmpty else { break }
        let token = allowed[Int(bytes[step % bytes.count]) % allowed.count]
        precondition(matcher.allows(token), "allowedTokens() lists token \(token) that allows() refuses")
        precondition(matcher.accept(token), "an allowed token \(token) was not accepted")
    }
    return 0
}

/// Every byte as a token, a few multi-byte pieces, and an end-of-generation token.
let vocabulary: TokenVocabulary = {
    var pieces: [[UInt8]?] = (0...255).map { [UInt8($0)] }
    for piece in ["\"", "{\"", "\":", "true", "null", "false", "12", "-0.5e3", "\\u00e9", "é", "abc", "  ", "\n", "[]", "{}"] {
        pieces.append(Array(piece.utf8))
    }
    pieces.append(nil)
    return TokenVocabulary(pieces: pieces, endOfGeneration: [Int32(pieces.count - 1)])
}()
