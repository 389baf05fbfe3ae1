import JSON
import Testing
@testable import ToolCalls

@Suite struct HarmonyChannelsTests {
    static let reasoningThenFinal =
        "<|channel|>analysis<|message|>User asks for the weather. Let me think.<|end|><|start|>assistant<|channel|>final<|message|>It is sunny in Paris."
    static let callWithRecipientInChannel =
        "<|channel|>analysis<|message|>Need to call the tool.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"Paris\"}"
    static let callWithRecipientInRole =
        "<|channel|>analysis<|message|>Need to call the tool.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{\"location\":\"Paris\"}"
    static let preambleThenCall =
        "<|channel|>analysis<|message|>Check the weather.<|end|><|start|>assistant<|channel|>commentary<|message|>Let me look that up.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\": \"Paris\"}"
    static let unicode =
        "<|channel|>analysis<|message|>Denke über Köln nach 🤔 — 東京?<|end|><|start|>assistant<|channel|>final<|message|>Es ist sonnig ☀️ in Köln, 👨‍👩‍👧 mögen das."

    /// Examples for the streaming properties, covering every path through the splitter.
    static let examples = [
        reasoningThenFinal, callWithRecipientInChannel, callWithRecipientInRole, preambleThenCall, unicode,
        "No header at all, a < b and <|unknown|> text.",
        "<|channel|>analysis<|message|>Thinking<|end|><|start|>assistant to=python<|channel|>analysis<|message|>print(1 < 2)",
    ]

    /// Feeds `pieces` one after another, then finishes; returns everything delivered.
    static func run(_ pieces: [String]) -> (output: ChannelOutput, deliveries: [ChannelOutput]) {
        var splitter = HarmonyChannels()
        var deliveries = pieces.map { splitter.feed($0) }
        deliveries.append(splitter.finish())
        let total = ChannelOutput(
            reasoning: deliveries.map(\.reasoning).joined(),
            content: deliveries.map(\.content).joined()
        )
        return (total, deliveries)
    }

    static func whole(_ text: String) -> ChannelOutput { run([text]).output }

    @Test func reasoningThenFinalAnswer() {
        let output = Self.whole(Self.reasoningThenFinal)
        #expect(output == ChannelOutput(reasoning: "User asks for the weather. Let me think.", content: "It is sunny in Paris."))
    }

    @Test(arguments: [callWithRecipientInChannel, callWithRecipientInRole])
    func functionCallBecomesToolCallBlock(text: String) {
        let output = Self.whole(text)
        #expect(output.reasoning == "Need to call the tool.")
        #expect(output.content == "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\":\"Paris\"}}\n</tool_call>")

        var parser = ToolCallParser(tools: [ToolDefinition(name: "get_weather", parameters: weatherTool.parameters)])
        _ = parser.feed(output.content)
        _ = parser.finish()
        #expect(parser.calls.map(\.name) == ["get_weather"])
        #expect(parser.calls.first?.arguments == json(#"{"location":"Paris"}"#))
        #expect(parser.content == "")
    }

    @Test func callIsHeldUntilItsMessageEnds() {
        var splitter = HarmonyChannels()
        let header = splitter.feed("<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":")
        #expect(header == ChannelOutput())
        let body = splitter.feed("\"Paris\"}<|call|>")
        #expect(body.content == "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\":\"Paris\"}}\n</tool_call>")
        #expect(splitter.finish() == ChannelOutput())
    }

    @Test func commentaryPreambleIsContent() {
        let output = Self.whole(Self.preambleThenCall)
        #expect(output.reasoning == "Check the weather.")
        #expect(output.content.hasPrefix("Let me look that up.<tool_call>\n"))

        var parser = ToolCallParser(tools: allTools)
        _ = parser.feed(output.content)
        _ = parser.finish()
        #expect(parser.content == "Let me look that up.")
        #expect(parser.calls.map(\.name) == ["get_weather"])
        #expect(parser.calls.first?.arguments == json(#"{"location":"Paris"}"#))
    }

    @Test func otherRecipientsAreNamedInFullAndNonObjectBodiesBecomeStrings() {
        let browser = Self.whole("<|channel|>analysis to=browser.search <|constrain|>json<|message|>{\"query\": \"harmony\"}<|call|>")
        #expect(browser == ChannelOutput(content: "<tool_call>\n{\"name\": \"browser.search\", \"arguments\": {\"query\": \"harmony\"}}\n</tool_call>"))
        let python = Self.whole("<|start|>assistant to=python<|channel|>analysis<|message|>print(\"hi\")\n")
        #expect(python == ChannelOutput(content: "<tool_call>\n{\"name\": \"python\", \"arguments\": \"print(\\\"hi\\\")\\n\"}\n</tool_call>"))
    }

    /// Two pieces cut at every character, and one character (or one Unicode scalar) at a time,
    /// give what the whole text gives; nothing delivered before the end shows a marker.
    @Test(arguments: examples)
    func everySplitMatchesTheWholeText(text: String) {
        let expected = Self.whole(text)
        let characters = Array(text)
        for split in 0...characters.count {
            let (output, deliveries) = Self.run([String(characters[..<split]), String(characters[split...])])
            #expect(output == expected, "split at \(split)")
            for delivered in deliveries.dropLast() {
                #expect(!delivered.reasoning.contains("<|channel") && !delivered.content.contains("<|channel"), "split at \(split)")
            }
        }
        #expect(Self.run(characters.map { String($0) }).output == expected)
        #expect(Self.run(text.unicodeScalars.map { String($0) }).output == expected)
    }

    @Test func partialMarkerIsHeldUntilDecided() {
        var splitter = HarmonyChannels()
        #expect(splitter.feed("Hello <") == ChannelOutput(content: "Hello "))
        #expect(splitter.feed("|cha") == ChannelOutput())
        #expect(splitter.feed("nnel|>analysis<|mess") == ChannelOutput())
        #expect(splitter.feed("age|>Hmm <|e") == ChannelOutput(reasoning: "Hmm "))
        #expect(splitter.feed("nd|>") == ChannelOutput())
        // `<|` that turns out to be no marker is text as soon as that is clear.
        #expect(splitter.feed("a <|b") == ChannelOutput(content: "a <|b"))
        #expect(splitter.feed(" <3 <|st") == ChannelOutput(content: " <3 "))
        // At the end, a fragment that never became a marker is text.
        #expect(splitter.finish() == ChannelOutput(content: "<|st"))
    }

    @Test func unicodeIsDeliveredIntact() {
        let output = Self.whole(Self.unicode)
        #expect(output == ChannelOutput(reasoning: "Denke über Köln nach 🤔 — 東京?", content: "Es ist sonnig ☀️ in Köln, 👨‍👩‍👧 mögen das."))
    }

    @Test func textWithoutHeaderIsContent() {
        #expect(Self.whole("Just an answer, no header.") == ChannelOutput(content: "Just an answer, no header."))
        #expect(Self.whole("") == ChannelOutput())
    }

    @Test func malformedOutputIsHandled() {
        // Unknown channel: content.
        #expect(Self.whole("<|channel|>musings<|message|>Hi.") == ChannelOutput(content: "Hi."))
        // `<|message|>` without a header: dropped, the text stays content.
        #expect(Self.whole("<|message|>Hi.<|end|>") == ChannelOutput(content: "Hi."))
        // A header never closed by `<|message|>`: dropped, at an end marker or at the end.
        #expect(Self.whole("<|channel|>final<|end|>After.") == ChannelOutput(content: "After."))
        #expect(Self.whole("<|start|>assistant<|channel|>fin") == ChannelOutput())
        // A new channel inside a body ends the message; a stray `to=assistant` names no tool.
        #expect(Self.whole("<|channel|>analysis<|message|>Think.<|channel|>commentary to=assistant<|channel|>final<|message|>Done.")
            == ChannelOutput(reasoning: "Think.", content: "Done."))
        // A call cut off by the end of generation is delivered as it stands.
        #expect(Self.whole("<|channel|>commentary to=functions.get_weather<|message|>{\"loc")
            == ChannelOutput(content: "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"loc\"}\n</tool_call>"))
        // An empty recipient names no tool.
        #expect(Self.whole("<|channel|>commentary to=functions.<|message|>Hi") == ChannelOutput(content: "Hi"))
    }

    @Test func appliesToHarmonyTemplatesOnly() {
        let gptOSS = #"{{- "<|start|>assistant<|channel|>analysis<|message|>" + message.thinking + "<|end|>" }}"#
        #expect(HarmonyChannels.applies(toTemplateSource: gptOSS))
        let chatML = #"{% for message in messages %}{{ '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{% endfor %}"#
        #expect(!HarmonyChannels.applies(toTemplateSource: chatML))
    }
}
