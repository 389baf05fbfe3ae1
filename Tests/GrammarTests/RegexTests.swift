import Grammar
import Testing

@Suite struct RegexTests {
    @Test(arguments: [
        ("abc", ["abc"], ["ab", "abcd", ""]),
        ("^a+b*$", ["a", "aab", "aabbb"], ["b", "", "ba"]),
        ("[a-c]{2,3}x?", ["ab", "abcx", "ccc"], ["a", "abcd", "abx x"]),
        ("\\d{3}-\\w+\\s\\.", ["123-a_b \t.".replacingOccurrences(of: "\t.", with: "."), "000-Z\t."], ["12-a .", "123- ."]),
        ("(?:ab|cd)+", ["ab", "abcd", "cdcd"], ["", "abc"]),
        ("(?<year>\\d{4})-(\\d{2})", ["2024-05"], ["2024-5"]),
        ("a.c", ["abc", "a中c", "a😀c"], ["a\nc", "ac"]),
        ("[^0-9\\s]+", ["abc", "é"], ["a1", "a b"]),
        ("\\u00e9\\x41\\/\\t", ["éA/\t"], ["eA/\t"]),
        ("a{2}b{1,}c{0,1}", ["aab", "aabbc"], ["ab", "aabcc"]),
        ("a*?b+?c??", ["b", "aabbc"], ["c"]),
        ("[\\d.-]+", ["1.5-2", "-"], ["a"]),
        ("x{,3}", ["x{,3}"], ["xxx"]),
        ("\\D\\W\\S", ["a!b"], ["1!b", "aab", "a! "]),
        ("[\\u4e00-\\u9fff]+", ["中文"], ["abc"]),
        ("a|b|", ["a", "b", ""], ["ab"]),
    ])
    func matchesAndNonMatches(pattern: String, valid: [String], invalid: [String]) throws {
        let grammar = try Grammar(regex: pattern)
        for text in valid { #expect(matches(grammar, text), "/\(pattern)/ should match \(text.debugDescription)") }
        for text in invalid { #expect(!matches(grammar, text), "/\(pattern)/ should not match \(text.debugDescription)") }
    }

    @Test(arguments: [
        ("(a)\\1", "offset 3", "backreferences"),
        ("(?=a)b", "offset 0", "lookahead"),
        ("(?<!a)b", "offset 0", "lookbehind"),
        ("a\\bc", "offset 1", "word boundaries"),
        ("a^b", "offset 1", "only supported"),
        ("a$b", "offset 1", "only supported"),
        ("(ab", "offset 0", "missing ')'"),
        ("ab)", "offset 2", "unmatched ')'"),
        ("*a", "offset 0", "nothing to repeat"),
        ("a**", "offset 0", "nothing to repeat"),
        ("[b-a]", "offset 1", "out of order"),
        ("[abc", "offset 0", "unterminated"),
        ("\\p{L}", "offset 0", "property"),
        ("a{5,2}", "offset 1", "below its minimum"),
        ("a{99999}", "offset 1", "limit"),
        ("\\k<x>", "offset 0", "backreferences"),
        ("(?i)a", "offset 0", "unsupported group"),
        ("\\q", "offset 0", "unknown escape"),
        ("\\ud800", "offset 0", "surrogate"),
        ("[[:alpha:]]", "offset 1", "POSIX"),
    ])
    func unsupportedConstructsNameTheirOffset(pattern: String, location: String, reason: String) {
        do {
            _ = try Grammar(regex: pattern)
            Issue.record("/\(pattern)/ was accepted")
        } catch {
            #expect(error.location == location, "/\(pattern)/: \(error)")
            #expect(error.reason.contains(reason), "/\(pattern)/: \(error)")
        }
    }

    @Test func nestedQuantifiersOfEmptyTextAreRefusedNotLooping() {
        #expect(throws: GrammarError.self) { try Grammar(regex: "(a*)*") }
    }

    @Test func deepGroupsAreRefused() {
        let pattern = String(repeating: "(", count: 1000) + "a" + String(repeating: ")", count: 1000)
        #expect(throws: GrammarError.self) { try Grammar(regex: pattern) }
    }
}
