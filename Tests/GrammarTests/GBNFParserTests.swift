import Grammar
import Testing

@Suite struct GBNFParserTests {
    static let arithmetic = #"""
    root  ::= (expr "=" ws term "\n")+
    expr  ::= term ([-+*/] term)*
    term  ::= ident | num | "(" ws expr ")" ws
    ident ::= [a-z] [a-z0-9_]* ws
    num   ::= [0-9]+ ws
    ws    ::= [ \t\n]*
    """#

    static let json = #"""
    root   ::= object
    value  ::= object | array | string | number | ("true" | "false" | "null") ws

    object ::=
      "{" ws (
                string ":" ws value
        ("," ws string ":" ws value)*
      )? "}" ws

    array  ::=
      "[" ws (
                value
        ("," ws value)*
      )? "]" ws

    string ::=
      "\"" (
        [^"\\\x7F\x00-\x1F] |
        "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
      )* "\"" ws

    number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

    # Optional space: by convention, applied in this grammar after literal chars when allowed
    ws ::= | " " | "\n" [ \t]{0,20}
    """#

    static let list = #"""
    root ::= item+

    # Excludes various line break characters
    item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
    """#

    @Test func arithmeticGrammar() throws {
        let grammar = try Grammar(gbnf: Self.arithmetic)
        #expect(matches(grammar, "a=b\n"))
        #expect(matches(grammar, "(x1 +2)*y = 3\nz=4\n"))
        #expect(!matches(grammar, "a=\n"))
        #expect(!matches(grammar, "=b\n"))
    }

    @Test func jsonGrammar() throws {
        let grammar = try Grammar(gbnf: Self.json)
        #expect(matches(grammar, #"{"a": [1, 2.5, -3e12, true, null, {"b": "c\n\u00e9"}]}"#))
        #expect(matches(grammar, "{}"))
        #expect(!matches(grammar, "{"))
        #expect(!matches(grammar, #"{"a" 1}"#))
        #expect(!matches(grammar, "[1]"))
    }

    @Test func listGrammar() throws {
        let grammar = try Grammar(gbnf: Self.list)
        #expect(matches(grammar, "- one\n- two ü\n"))
        #expect(!matches(grammar, "- \n"))
        #expect(!matches(grammar, "- one"))
    }

    @Test func syntaxFeatures() throws {
        let grammar = try Grammar(gbnf: #"""
        root ::= a{2} b{1,} c{0,2} d{2,3} any "\x41\u00e9\U0001F600\t" [\]\-x] [^a-z] "done"
        a ::= "a"   # comment
        b ::= "b"
        c ::= "c"
        d ::= "d"
        any ::= .
        """#)
        #expect(matches(grammar, "aabbbcdd!A\u{e9}\u{1F600}\t]Zdone"))
        #expect(matches(grammar, "aabccddd\u{4E2D}A\u{e9}\u{1F600}\t-0done"))
        #expect(!matches(grammar, "abbcdd!A\u{e9}\u{1F600}\t]Zdone"))
        #expect(!matches(grammar, "aabcccdd!A\u{e9}\u{1F600}\t]Zdone"))
        #expect(!matches(grammar, "aabdd!A\u{e9}\u{1F600}\t]zdone"))
    }

    @Test func alternativesContinueOnNextLines() throws {
        let grammar = try Grammar(gbnf: "root ::= \"a\" |\n  \"b\"\n  | \"c\"\n")
        #expect(matches(grammar, "a") && matches(grammar, "b") && matches(grammar, "c"))
    }

    @Test func customRoot() throws {
        let grammar = try Grammar(gbnf: "start ::= \"x\" other\nother ::= \"y\"", root: "start")
        #expect(matches(grammar, "xy"))
    }

    @Test func emptyAlternativeAndEmptyLiteral() throws {
        let grammar = try Grammar(gbnf: "root ::= \"a\" opt \"\"\nopt ::= | \"b\"")
        #expect(matches(grammar, "a") && matches(grammar, "ab") && !matches(grammar, "abb"))
    }

    static func failure(_ source: String, root: String = "root") -> GrammarError? {
        do {
            _ = try Grammar(gbnf: source, root: root)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("root ::= foo", "line 1, column 10", "undefined rule 'foo'"),
        ("root ::= \"a\"\n\nroot ::= \"b\"", "line 3, column 1", "already defined"),
        ("root ::= root \"a\" | \"b\"", "line 1, column 1", "left recursion"),
        ("root ::= a\na ::= b \"x\"\nb ::= c? root | \"y\"\nc ::= \"c\"", "line", "left recursion"),
        ("root ::= (\"a\"?)*", "line 1, column 1", "empty text"),
        ("root ::= \"a\" root", "line 1, column 1", "never finish"),
        ("root \"a\"", "line 1, column 6", "'::='"),
        ("root ::= \"abc", "line 1, column 14", "unterminated string"),
        ("root ::= \"\\q\"", "line 1, column 13", "unknown escape"),
        ("root ::= [^\\x00-\\U0010FFFF]", "line 1, column 10", "matches nothing"),
        ("root ::= [z-a]", "line 1, column 14", "reversed"),
        ("root ::= \"a\"{3,2}", "line 1, column 17", "below its minimum"),
        ("root ::= \"a\"{100000}", "line 1, column 19", "limit"),
        ("root ::= (\"a\"", "line 1, column 14", "expected ')'"),
        ("root ::= \"a\" )", "line 1, column 14", "unexpected ')'"),
        ("root ::= \"\\uD800\"", "line 1, column 17", "not a Unicode scalar"),
        ("other ::= \"a\"", "line 1, column 1", "no rule named 'root'"),
        ("root ::= \"a\"*+?*+", "line 1, column 17", "too many quantifiers"),
        ("root ::= <think>", "line 1, column 10", "token references"),
        ("", "line 1, column 1", "no rules"),
        ("root ::= \"a\" b ::= \"c\"", "line 1, column 14", "missing newline"),
    ])
    func errorsNameTheirLocation(source: String, location: String, reason: String) {
        let error = Self.failure(source)
        #expect(error != nil, "accepted: \(source)")
        guard let error else { return }
        #expect(error.location.hasPrefix(location), "\(error)")
        #expect(error.reason.contains(reason), "\(error)")
    }

    @Test func deepNestingIsRefused() {
        let source = "root ::= " + String(repeating: "(", count: 500) + "\"a\"" + String(repeating: ")", count: 500)
        #expect(Self.failure(source)?.reason.contains("nested deeper") == true)
    }

    @Test func oversizedSourceIsRefused() {
        let source = "root ::= \"" + String(repeating: "a", count: 1 << 20) + "\""
        #expect(Self.failure(source)?.reason.contains("larger than") == true)
    }

    @Test func largeExpansionIsRefused() {
        // Each bounded repetition becomes a chain of rules; a hundred of the largest is too much.
        let items = (0..<100).map { "[\\u\(String(0x4E00 + $0, radix: 16))]{0,10000}" }
        let error = Self.failure("root ::= " + items.joined(separator: " "))
        #expect(error?.reason.contains("expands to more than") == true, "\(String(describing: error))")
    }

    @Test func unusedBrokenRulesDoNotMatter() throws {
        // Left recursion in a rule the root never reaches cannot loop, so it is allowed.
        let grammar = try Grammar(gbnf: "root ::= \"a\"\nunused ::= unused \"b\"")
        #expect(matches(grammar, "a"))
    }

    @Test func errorDescription() {
        let error = GrammarError(location: "line 2, column 3", reason: "bad")
        #expect(error.description == "line 2, column 3: bad")
    }
}
