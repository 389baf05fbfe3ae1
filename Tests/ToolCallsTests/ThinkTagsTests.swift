import Templates
import Testing
@testable import ToolCalls

@Suite struct ThinkTagsTests {
    /// Feeds `pieces` one after another, then finishes; returns everything delivered.
    static func run(_ pieces: [String], opened: Bool = false) -> (output: ChannelOutput, deliveries: [ChannelOutput]) {
        var splitter = ReasoningSyntax.thinkTags(opened: opened).makeSplitter()
        var deliveries = pieces.map { splitter.feed($0) }
        deliveries.append(splitter.finish())
        return (ChannelOutput(reasoning: deliveries.map(\.reasoning).joined(), content: deliveries.map(\.content).joined()), deliveries)
    }

    static func whole(_ text: String, opened: Bool = false) -> ChannelOutput { run([text], opened: opened).output }

    @Test func aLeadingBlockIsReasoningAndTheWhitespaceAfterItIsDropped() {
        #expect(Self.whole("<think>\nThe user greets me.\n</think>\n\nHello!") ==
                ChannelOutput(reasoning: "\nThe user greets me.\n", content: "Hello!"))
        #expect(Self.whole("  \n<think>x</think>y") == ChannelOutput(reasoning: "x", content: "y"))
        // Qwen3's template with thinking off writes an empty block; a model may write one too.
        #expect(Self.whole("<think>\n\n</think>\n\nAnswer") == ChannelOutput(reasoning: "\n\n", content: "Answer"))
    }

    @Test func withoutALeadingBlockEverythingIsContent() {
        #expect(Self.whole("Hello <think>not reasoning</think> there") ==
                ChannelOutput(content: "Hello <think>not reasoning</think> there"))
        #expect(Self.whole("<thinking>no</thinking>") == ChannelOutput(content: "<thinking>no</thinking>"))
        #expect(Self.whole("<thi") == ChannelOutput(content: "<thi"))
        #expect(Self.whole("  ") == ChannelOutput(content: "  "))
        #expect(Self.whole("") == ChannelOutput())
    }

    @Test func aPromptThatOpenedTheBlockMakesTheAnswerStartInside() {
        #expect(Self.whole("Let me see.\n</think>\n\nIt is 4.", opened: true) ==
                ChannelOutput(reasoning: "Let me see.\n", content: "It is 4."))
        // Cut off before the close (max_tokens): all of it was reasoning.
        #expect(Self.whole("Still thinking </thi", opened: true) == ChannelOutput(reasoning: "Still thinking </thi"))
        // Only the first close ends the block; a second is the answer's text.
        #expect(Self.whole("a</think>b</think>c", opened: true) == ChannelOutput(reasoning: "a", content: "b</think>c"))
    }

    @Test func aPartialTagIsHeldUntilDecidedAndNothingElseIs() {
        let (_, deliveries) = Self.run(["<th", "ink>Plan", " it<", "/thi", "nk>", " Do", " it"])
        #expect(deliveries.map(\.reasoning) == ["", "Plan", " it", "", "", "", "", ""])
        #expect(deliveries.map(\.content) == ["", "", "", "", "", "Do", " it", ""])
        let plain = Self.run(["Hi", " there"]).deliveries
        #expect(plain.map(\.content) == ["Hi", " there", ""], "text that cannot open a block goes out at once")
    }

    @Test func anySplitGivesTheSameResultAsTheWhole() {
        let examples: [(String, Bool)] = [
            ("<think>\nDenke über Köln nach 🤔 — 東京?\n</think>\n\nEs ist sonnig ☀️, 👨‍👩‍👧.", false),
            ("\n\n<think>a < b and </thin k> still</think>\n<tool_call>{}</tool_call>", false),
            ("x<think>y</think>", false),
            ("Reasoning ☀️ here</think>\n\nAnswer 東京", true),
            ("<think></think>", false),
        ]
        for (text, opened) in examples {
            let expected = Self.whole(text, opened: opened)
            let characters = text.map(String.init)
            #expect(Self.run(characters, opened: opened).output == expected, "one character at a time: \(text)")
            for cut in 0...characters.count {
                let pieces = [characters[..<cut].joined(), characters[cut...].joined()]
                #expect(Self.run(pieces, opened: opened).output == expected, "cut at \(cut): \(text)")
            }
        }
    }

    static func message(_ pairs: [(String, TemplateValue)]) -> TemplateValue { .object(TemplateObject(pairs)) }

    static func render(_ template: ChatTemplate, _ messages: [TemplateValue], _ extra: [String: TemplateValue] = [:]) throws -> String {
        var variables = extra
        variables["messages"] = .array(messages)
        variables["add_generation_prompt"] = .bool(true)
        variables["tools"] = TemplateValue.none
        return try template.render(variables)
    }

    /// The published templates as their models' files carry them: Qwen3 thinks unless told not
    /// to, QwQ's prompt opens the block itself, Qwen2.5 does not reason.
    @Test func realTemplatesAreRecognisedAndTheirSwitchesRead() throws {
        let user = Self.message([("role", "user"), ("content", "Hi")])
        let qwen3 = try fixtureTemplate("Qwen-Qwen3-0.6B")
        let thinking = try Self.render(qwen3, [user])
        #expect(ReasoningSyntax.of(templateSource: qwen3.source, renderedPrompt: thinking) == .thinkTags(opened: false))
        let quiet = try Self.render(qwen3, [user], ["enable_thinking": .bool(false)])
        #expect(quiet.hasSuffix("<think>\n\n</think>\n\n"))
        #expect(ReasoningSyntax.of(templateSource: qwen3.source, renderedPrompt: quiet) == .thinkTags(opened: false))
        let qwq = try fixtureTemplate("Qwen-QwQ-32B")
        let opened = try Self.render(qwq, [user], ["enable_thinking": .bool(true)])
        #expect(ReasoningSyntax.of(templateSource: qwq.source, renderedPrompt: opened) == .thinkTags(opened: true))
        let qwen25 = try fixtureTemplate("Qwen-Qwen2.5-7B-Instruct")
        #expect(ReasoningSyntax.of(templateSource: qwen25.source, renderedPrompt: try Self.render(qwen25, [user])) == nil)
        // An answer's thoughts sent back in a tool loop are written where Qwen3 expects them.
        let call = Self.message([("function", Self.message([("name", "get_time"), ("arguments", .object(TemplateObject([])))]))])
        let loop = try Self.render(qwen3, [
            user,
            Self.message([("role", "assistant"), ("content", ""), ("reasoning_content", "I need the time."), ("tool_calls", .array([call]))]),
            Self.message([("role", "tool"), ("content", "12:00")]),
        ])
        #expect(loop.contains("<think>\nI need the time.\n</think>"))
    }

    @Test func theSyntaxComesFromTheTemplateAndThePrompt() {
        let qwen3 = "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
        #expect(ReasoningSyntax.of(templateSource: qwen3, renderedPrompt: "<|im_start|>assistant\n") == .thinkTags(opened: false))
        #expect(ReasoningSyntax.of(templateSource: qwen3, renderedPrompt: "<|im_start|>assistant\n<think>\n") == .thinkTags(opened: true))
        #expect(ReasoningSyntax.of(templateSource: qwen3, renderedPrompt: "<|im_start|>assistant\n<think>\n\n</think>\n\n") ==
                .thinkTags(opened: false))
        #expect(ReasoningSyntax.of(templateSource: "<|start|>assistant<|channel|>final<|message|>", renderedPrompt: "") == .harmony)
        #expect(ReasoningSyntax.of(templateSource: "{{ messages[0].content }}<|im_start|>assistant\n", renderedPrompt: "") == nil)
        #expect(ReasoningSyntax.reasons(templateSource: qwen3))
        #expect(!ReasoningSyntax.reasons(templateSource: "{{ messages }}"))
    }
}
