import Foundation
import Grammar
import JSON
import Testing

/// Prints mask and `allows` timings on a 151,936-token synthetic vocabulary so they can be
/// quoted (run with `swift test -c release --filter SpeedReport`). Never asserts on time.
@Suite struct SpeedReport {
    static let vocabularySize = 151_936

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test func maskTimings() throws {
        var vocabulary: TokenVocabulary! = nil
        let buildTime = Self.seconds { vocabulary = syntheticVocabulary(extra: Self.vocabularySize - 257, seed: 42) }
        print("speed: vocabulary \(vocabulary.count) tokens, \(vocabulary.trieNodeCount) trie nodes, built in \(String(format: "%.0f", buildTime * 1000)) ms")
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "name": ["type": "string"], "age": ["type": "integer", "minimum": 0, "maximum": 150],
                "tags": ["type": "array", "items": ["type": "string"], "maxItems": 5], "score": ["type": "number"],
            ],
            "required": ["name", "age"],
        ]
        let cases: [(String, Grammar, String)] = [
            ("json object, start", Grammar.jsonObject(), ""),
            ("json object, after {", Grammar.jsonObject(), "{"),
            ("json object, in key", Grammar.jsonObject(), "{\"ke"),
            ("json object, in string value", Grammar.jsonObject(), "{\"key\": \"some text"),
            ("json object, in number", Grammar.jsonObject(), "{\"key\": 12"),
            ("schema, in name string", try Grammar.jsonSchema(schema), "{\"name\": \"Al"),
            ("schema, after name", try Grammar.jsonSchema(schema), "{\"name\": \"Al\""),
            ("schema, in age", try Grammar.jsonSchema(schema), "{\"name\": \"Al\", \"age\": 1"),
            ("schema, in tags string", try Grammar.jsonSchema(schema), "{\"name\": \"Al\", \"age\": 1, \"tags\": [\"x"),
        ]
        for (label, grammar, prefix) in cases {
            var matcher = GrammarMatcher(grammar: grammar, vocabulary: vocabulary)
            let accepted = matcher.accept(bytes: Array(prefix.utf8))
            #expect(accepted)
            var logits = [Float](repeating: 0, count: vocabulary.count)
            let cold = Self.seconds { matcher.maskLogits(&logits) }
            let allowed = logits.filter { $0 == 0 }.count
            grammar.clearMaskCache()
            let repeats = 5
            let warm = Self.seconds { for _ in 0..<repeats { grammar.clearMaskCache(); matcher.maskLogits(&logits) } } / Double(repeats)
            let cached = Self.seconds { for _ in 0..<repeats { matcher.maskLogits(&logits) } } / Double(repeats)
            let sample = (0..<1000).map { Int32($0 * 151 % vocabulary.count) }
            var hits = 0
            let allowsTime = Self.seconds { for token in sample where matcher.allows(token) { hits += 1 } } / Double(sample.count)
            print(String(format: "speed: %-32@ allowed %6d  mask cold %7.2f ms  walk %6.2f ms  cached %5.2f ms  allows %5.2f µs",
                         label as NSString, allowed, cold * 1000, warm * 1000, cached * 1000, allowsTime * 1e6))
        }
    }
}
