import Grammar
import JSON
import Testing
@testable import ToolCalls

@Suite struct ToolGrammarTests {
    static let families: [ToolCallFormat.Family] = [
        .hermes, .llama3JSON, .mistralArray, .mistralNamed(callIDs: false), .mistralNamed(callIDs: true), .qwen3Coder, .genericJSON,
    ]
    static let choices: [ToolChoice] = [.auto, .required, .function("search")]

    @Test(arguments: 0..<families.count)
    func buildsAGrammarForEveryChoice(familyIndex: Int) throws {
        let format = ToolCallFormat(family: Self.families[familyIndex], templateRendersTools: true)
        for choice in Self.choices {
            for parallel in [false, true] {
                let constraint = try #require(try format.constraint(tools: allTools, choice: choice, parallel: parallel))
                #expect(constraint.triggers.isEmpty == (choice != .auto))
            }
        }
        #expect(try format.constraint(tools: allTools, choice: .none, parallel: true) == nil)
        #expect(try format.constraint(tools: [], choice: .required, parallel: true) == nil)
        #expect(throws: GrammarError.self) { try format.constraint(tools: allTools, choice: .function("nope"), parallel: false) }
    }

    @Test func autoTriggersAreMarkersAndOfferedNames() throws {
        let hermes = try #require(try ToolCallFormat(family: .hermes, templateRendersTools: true)
            .constraint(tools: [weatherTool], choice: .auto, parallel: false))
        #expect(hermes.triggers == ["<tool_call>", "\"name\": \"get_weather\"", "\"name\":\"get_weather\""])
        let generic = try #require(try ToolCallFormat.genericJSON.constraint(tools: [weatherTool], choice: .auto, parallel: false))
        #expect(generic.triggers == ["\"name\": \"get_weather\"", "\"name\":\"get_weather\""])
        let mistral = try #require(try ToolCallFormat(family: .mistralArray, templateRendersTools: true)
            .constraint(tools: [weatherTool], choice: .auto, parallel: false))
        #expect(mistral.triggers.first == "[TOOL_CALLS]")
    }

    @Test func namedChoiceOffersOnlyThatTool() throws {
        let grammar = ToolGrammar(family: .hermes, tools: allTools)
        let (builder, _) = try #require(try grammar.rules(choice: .function("search"), parallel: false))
        let text = builder.gbnf(root: "root")
        #expect(text.contains("search"))
        #expect(!text.contains("get_weather"))
        #expect(text.contains("<tool_call>"))
    }

    // MARK: - Acceptance (byte by byte, through Grammar's matcher)

    /// The canonical call for each family, as its template writes it.
    static let canonicalCalls: [(family: ToolCallFormat.Family, text: String)] = [
        (.hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>"),
        (.llama3JSON, "{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\"}}"),
        (.mistralArray, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}, \"id\": \"abcDEF123\"}]"),
        (.mistralNamed(callIDs: false), "[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\"}"),
        (.mistralNamed(callIDs: true), "[TOOL_CALLS]get_weather[CALL_ID]abcDEF123[ARGS]{\"location\": \"Paris\"}"),
        (.qwen3Coder, "<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n</function>\n</tool_call>"),
        (.genericJSON, "{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}"),
    ]

    /// Each byte a token, plus an end-of-generation token.
    static let byteVocabulary = TokenVocabulary(pieces: (0..<256).map { [UInt8($0)] }, endOfGeneration: [256])

    /// Whether `grammar` accepts `text` byte by byte and can end after it.
    static func accepts(_ grammar: Grammar, _ text: String) -> Bool {
        var matcher = GrammarMatcher(grammar: grammar, vocabulary: byteVocabulary)
        for byte in text.utf8 where !matcher.accept(bytes: [byte]) { return false }
        return matcher.canEnd
    }

    @Test(arguments: 0..<canonicalCalls.count)
    func requiredGrammarAcceptsTheCanonicalCall(index: Int) throws {
        let (family, text) = Self.canonicalCalls[index]
        let format = ToolCallFormat(family: family, templateRendersTools: true)
        for choice in [ToolChoice.required, .function("get_weather")] {
            for parallel in [false, true] {
                let constraint = try #require(try format.constraint(tools: allTools, choice: choice, parallel: parallel))
                #expect(Self.accepts(constraint.grammar, text), "\(choice) parallel \(parallel)")
            }
        }
        // The parser reads back what the grammar allows.
        let (_, parser) = parseWhole(text)
        #expect(parser.calls.map(\.name) == ["get_weather"])
        #expect(parser.calls.first?.arguments == ["location": "Paris"])
        #expect(parser.content.isEmpty)
    }

    @Test func requiredGrammarRejectsOtherTools() throws {
        let format = ToolCallFormat(family: .hermes, templateRendersTools: true)
        let named = try #require(try format.constraint(tools: allTools, choice: .function("search"), parallel: false))
        #expect(!Self.accepts(named.grammar, Self.canonicalCalls[0].text))
        let required = try #require(try format.constraint(tools: allTools, choice: .required, parallel: false))
        #expect(!Self.accepts(required.grammar, "<tool_call>\n{\"name\": \"launch\", \"arguments\": {}}\n</tool_call>"))
        #expect(!Self.accepts(required.grammar, "Sure!"))
        #expect(!Self.accepts(required.grammar, Self.canonicalCalls[0].text + "\n" + Self.canonicalCalls[0].text))
    }

    @Test func parallelGrammarAcceptsSeveralCalls() throws {
        let format = ToolCallFormat(family: .hermes, templateRendersTools: true)
        let constraint = try #require(try format.constraint(tools: allTools, choice: .required, parallel: true))
        let second = "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"swift\", \"limit\": 2}}\n</tool_call>"
        #expect(Self.accepts(constraint.grammar, Self.canonicalCalls[0].text + "\n" + second))
    }

    @Test func qwen3CoderGrammarTakesRawStringsAndJSONValues() throws {
        let format = ToolCallFormat(family: .qwen3Coder, templateRendersTools: true)
        let constraint = try #require(try format.constraint(tools: allTools, choice: .required, parallel: false))
        let text = "<tool_call>\n<function=search>\n<parameter=query>\nswift \"testing\" <b>\n</parameter>\n<parameter=limit>\n5\n</parameter>\n</function>\n</tool_call>"
        #expect(Self.accepts(constraint.grammar, text))
        #expect(!Self.accepts(constraint.grammar, text.replacingOccurrences(of: "\n5\n", with: "\nfive\n")))
        let enumText = "<tool_call>\n<function=get_weather>\n<parameter=location>\nOslo\n</parameter>\n<parameter=unit>\nkelvin\n</parameter>\n</function>\n</tool_call>"
        #expect(!Self.accepts(constraint.grammar, enumText))
        #expect(Self.accepts(constraint.grammar, enumText.replacingOccurrences(of: "kelvin", with: "celsius")))
    }

    /// In `.auto` the grammar matches from a trigger on: the family's marker, or an offered
    /// tool's name in a JSON call (bare, fenced, or after markers the family doesn't use).
    @Test func lazyGrammarMatchesFromEachTrigger() throws {
        for (family, text) in Self.canonicalCalls {
            let format = ToolCallFormat(family: family, templateRendersTools: true)
            let constraint = try #require(try format.constraint(tools: allTools, choice: .auto, parallel: false))
            if let marker = constraint.triggers.first, !marker.hasPrefix("\"name\"") {
                let fromMarker = family == .llama3JSON ? marker + text : text
                #expect(fromMarker.hasPrefix(marker))
                #expect(Self.accepts(constraint.grammar, fromMarker), "\(family)")
            }
            #expect(Self.accepts(constraint.grammar, "\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}"))
            #expect(Self.accepts(constraint.grammar, "\"name\":\"search\",\n  \"parameters\": {\"query\": \"x\", \"limit\": 1}\n}"))
        }
    }
}
