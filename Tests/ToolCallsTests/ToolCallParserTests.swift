import JSON
import Testing
@testable import ToolCalls

@Suite struct ToolCallParserTests {
    /// Texts covering every syntax, with the calls and content each must give.
    static let cases: [(text: String, calls: [(String, String)], content: String)] = [
        // Hermes / Qwen2.5.
        ("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>",
         [("get_weather", #"{"location":"Paris"}"#)], ""),
        ("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
         [("get_weather", #"{"location":"Paris"}"#), ("get_time", "{}")], "Let me check."),
        // Arguments as JSON text, and a missing closing tag at the end of generation.
        ("<tool_call>{\"name\": \"search\", \"arguments\": \"{\\\"query\\\": \\\"swift\\\", \\\"limit\\\": 3}\"}",
         [("search", #"{"query":"swift","limit":3}"#)], ""),
        // Llama 3.x.
        ("{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Rome\", \"unit\": \"celsius\"}}",
         [("get_weather", #"{"location":"Rome","unit":"celsius"}"#)], ""),
        ("<|python_tag|>{\"name\": \"get_time\", \"parameters\": {}}", [("get_time", "{}")], ""),
        // Mistral, both syntaxes, with ids carried.
        ("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Oslo\"}, \"id\": \"abcDEF123\"}, {\"name\": \"get_time\", \"arguments\": {}}]",
         [("get_weather", #"{"location":"Oslo"}"#), ("get_time", "{}")], ""),
        ("[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Oslo\"}[TOOL_CALLS]get_time[ARGS]{}",
         [("get_weather", #"{"location":"Oslo"}"#), ("get_time", "{}")], ""),
        ("[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"location\": \"Oslo\"}", [("get_weather", #"{"location":"Oslo"}"#)], ""),
        // Qwen3-Coder: strings raw, other values JSON.
        ("I'll search.\n\n<tool_call>\n<function=search>\n<parameter=query>\nswift <b>testing</b>\n</parameter>\n<parameter=limit>\n5\n</parameter>\n</function>\n</tool_call>",
         [("search", #"{"query":"swift <b>testing</b>","limit":5}"#)], "I'll search."),
        // What small models emit instead of their markers: fenced and bare JSON.
        ("```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\n    \"location\": \"Paris\"\n  }\n}\n```",
         [("get_weather", #"{"location":"Paris"}"#)], ""),
        ("Sure:\n```\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n```\nDone.",
         [("get_weather", #"{"location":"Paris"}"#)], "Sure:\nDone."),
        ("```json\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}", [("get_weather", #"{"location":"Paris"}"#)], ""),
        ("{\"function\": {\"name\": \"get_time\", \"arguments\": {}}}", [("get_time", "{}")], ""),
        // Not calls: unknown tools, malformed JSON, JSON that isn't a call, other code fences.
        ("<tool_call>\n{\"name\": \"launch_rocket\", \"arguments\": {}}\n</tool_call>", [],
         "<tool_call>\n{\"name\": \"launch_rocket\", \"arguments\": {}}\n</tool_call>"),
        ("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"\n</tool_call>", [],
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"\n</tool_call>"),
        ("{\"name\": \"get_weather\"}", [], "{\"name\": \"get_weather\"}"),
        ("Use {\"name\": \"Ann\", \"age\": 3} and {\"a\": [1, {\"b\": 2}]}.", [], "Use {\"name\": \"Ann\", \"age\": 3} and {\"a\": [1, {\"b\": 2}]}."),
        ("```python\nprint({\"x\": 1})\n```", [], "```python\nprint({\"x\": 1})\n```"),
        ("a < b and c [d] `e` <tool", [], "a < b and c [d] `e` <tool"),
        ("{\"name\": \"get_weather\", \"arguments\": [1]}", [], "{\"name\": \"get_weather\", \"arguments\": [1]}"),
        ("Plain answer with ünïcödé ☀️ and trailing space. ", [], "Plain answer with ünïcödé ☀️ and trailing space. "),
    ]

    @Test(arguments: 0..<cases.count)
    func parsesWholeText(index: Int) {
        let (text, expectedCalls, expectedContent) = Self.cases[index]
        let (events, parser) = parseWhole(text)
        #expect(parser.calls.map(\.name) == expectedCalls.map(\.0))
        #expect(parser.calls.map(\.arguments) == expectedCalls.map { json($0.1) })
        #expect(parser.content == expectedContent)
        let contentFromEvents = events.compactMap { event -> String? in
            if case .content(let text) = event { return text }
            return nil
        }.joined()
        #expect(contentFromEvents == expectedContent)
    }

    /// Every split point gives the same content and calls as the whole text, and content never
    /// carries a partial marker.
    @Test(arguments: 0..<cases.count)
    func streamingSplitsMatchTheWholeText(index: Int) {
        let text = Self.cases[index].text
        let whole = normalized(parseWhole(text).events)
        let characters = Array(text)
        for split in 0...characters.count {
            var parser = ToolCallParser(tools: allTools)
            let first = parser.feed(String(characters[..<split]))
            let events = first + parser.feed(String(characters[split...])) + parser.finish()
            #expect(normalized(events) == whole, "split at \(split)")
            if !Self.cases[index].calls.isEmpty {
                for case .content(let piece) in first {
                    #expect(!piece.contains("<tool") && !piece.contains("[TOOL") && !piece.contains("{\""), "split at \(split): \(piece)")
                }
            }
        }
    }

    /// Feeding one character at a time (as tokens arrive) gives the same result.
    @Test(arguments: 0..<cases.count)
    func characterByCharacterMatchesTheWholeText(index: Int) {
        let text = Self.cases[index].text
        var parser = ToolCallParser(tools: allTools)
        var events: [ToolCallEvent] = []
        for character in text { events += parser.feed(String(character)) }
        events += parser.finish()
        #expect(normalized(events) == normalized(parseWhole(text).events))
    }

    @Test func contentIsReleasedAsSoonAsItCannotBeACall() {
        var parser = ToolCallParser(tools: allTools)
        #expect(parser.feed("Hello <") == [.content("Hello")])
        #expect(parser.feed("b") == [.content(" <b")])
        #expect(parser.feed("> {\"") == [.content(">")])
        #expect(parser.feed("nam") == [])
        #expect(parser.feed("e\": \"Bob\"") == [.content(" {\"name\": \"Bob\"")])
        #expect(parser.feed(" ```") == [])
        #expect(parser.feed("js") == [])
        #expect(parser.feed("x") == [.content(" ```jsx")])
        #expect(parser.finish() == [])
        #expect(parser.content == "Hello <b> {\"name\": \"Bob\" ```jsx")
    }

    @Test func eventsFollowOpenAIStreamingOrder() {
        let (events, parser) = parseWhole("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>")
        let id = parser.calls[0].id
        #expect(id.hasPrefix("call_") && id.count == 29)
        #expect(events == [.callStarted(index: 0, id: id, name: "get_time"), .arguments(index: 0, fragment: "{}"), .callFinished(index: 0)])
    }

    @Test func argumentFragmentsConcatenateToTheArguments() {
        for (text, calls, _) in Self.cases where !calls.isEmpty {
            var parser = ToolCallParser(tools: allTools)
            var events: [ToolCallEvent] = []
            for character in text { events += parser.feed(String(character)) }
            events += parser.finish()
            for (index, call) in parser.calls.enumerated() {
                let fragments = events.compactMap { event -> String? in
                    if case .arguments(index, let fragment) = event { return fragment }
                    return nil
                }
                #expect(json(fragments.joined()) == call.arguments)
            }
        }
    }

    @Test func carriesMistralIDs() {
        let (_, parser) = parseWhole("[TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {}, \"id\": \"abcDEF123\"}]")
        #expect(parser.calls.map(\.id) == ["abcDEF123"])
    }

    @Test func withoutToolsEverythingIsContent() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"
        let (_, parser) = parseWhole(text, tools: [])
        #expect(parser.calls.isEmpty)
        #expect(parser.content == text)
    }

    @Test func makeParserUsesTheTools() {
        var parser = ToolCallFormat.genericJSON.makeParser(tools: [timeTool])
        _ = parser.feed("{\"name\": \"get_time\", \"arguments\": {}}")
        _ = parser.finish()
        #expect(parser.calls.map(\.name) == ["get_time"])
    }

    /// A call with large arguments, streamed in small pieces, stays cheap to follow.
    @Test func longArgumentsStreamInLinearTime() {
        let body = String(repeating: "line of code;\\n", count: 4000)
        let text = "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"\(body)\", \"limit\": 1}}\n</tool_call>"
        var parser = ToolCallParser(tools: allTools)
        var events: [ToolCallEvent] = []
        let characters = Array(text)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for start in stride(from: 0, to: characters.count, by: 3) {
                events += parser.feed(String(characters[start..<min(start + 3, characters.count)]))
            }
            events += parser.finish()
        }
        #expect(parser.calls.count == 1)
        #expect(parser.content.isEmpty)
        #expect(elapsed < .seconds(5))
    }
}
