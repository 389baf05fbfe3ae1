import JSON
import Templates
import Testing
@testable import ToolCalls

@Suite struct FormatDetectionTests {
    static let expectedFormats: [(fixture: String, format: String, rendersTools: Bool)] = [
        ("gguf-qwen15", "hermes", true),
        ("gguf-qwen05", "hermes", true),
        ("Qwen-Qwen2.5-7B-Instruct", "hermes", true),
        ("Qwen-Qwen3-0.6B", "hermes", true),
        ("Qwen-QwQ-32B", "hermes", true),
        ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "hermes", true),
        ("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "hermes", true),
        ("meta-llama-Llama-3.1-8B-Instruct", "llama3-json", true),
        ("meta-llama-Llama-3.2-3B-Instruct", "llama3-json", true),
        ("meta-llama-Llama-3.3-70B-Instruct", "llama3-json", true),
        ("mistralai-Mistral-Nemo-Instruct-2407", "mistral", true),
        ("unsloth-mistral-Devstral-Small-2507", "mistral", true),
        ("Mistral-Small-3.2-24B-Instruct-2506", "mistral", true),
        ("mistralai-Ministral-3-14B-Reasoning-2512", "mistral", true),
        ("Qwen3-Coder", "qwen3-coder", true),
        ("HuggingFaceTB-SmolLM3-3B", "generic-json", false),
        ("gguf-smollm2", "generic-json", false),
    ]

    @Test(arguments: expectedFormats.map(\.fixture))
    func detectsTheFormatOfEachFixture(fixture: String) throws {
        let expected = try #require(Self.expectedFormats.first { $0.fixture == fixture })
        let format = ToolCallFormat.detect(template: try fixtureTemplate(fixture))
        #expect(format.name == expected.format)
        #expect(format.templateRendersTools == expected.rendersTools)
    }

    @Test func distinguishesTheMistralSyntaxes() throws {
        let nemo = ToolCallFormat.detect(template: try fixtureTemplate("mistralai-Mistral-Nemo-Instruct-2407"))
        #expect(nemo.family == .mistralArray)
        let devstral = ToolCallFormat.detect(template: try fixtureTemplate("unsloth-mistral-Devstral-Small-2507"))
        #expect(devstral.family == .mistralNamed(callIDs: false))
        let small = ToolCallFormat.detect(template: try fixtureTemplate("Mistral-Small-3.2-24B-Instruct-2506"))
        #expect(small.family == .mistralNamed(callIDs: true))
    }

    @Test func builtinTemplatesWithoutToolsAreGenericJSON() throws {
        for source in [BuiltinChatTemplates.gemma, BuiltinChatTemplates.chatml] {
            let format = ToolCallFormat.detect(template: try ChatTemplate(source: source))
            #expect(format.name == "generic-json")
            #expect(!format.templateRendersTools)
        }
    }

    // MARK: - Rendering history

    /// A conversation with a call and its result, rendered as the integrator will.
    static func renderConversation(_ template: ChatTemplate, _ format: ToolCallFormat) throws -> String {
        let call = ToolCall(id: "call_abc123", name: "get_weather", arguments: ["location": "Paris"])
        var messages: [TemplateValue] = [
            ["role": "user", "content": "What is the weather in Paris?"],
            format.assistantMessage(content: nil, calls: [call]),
            format.toolResultMessage(content: "{\"temperature\": 21}", callID: call.id, name: call.name),
        ]
        var tools = format.templateTools([weatherTool])
        if !format.templateRendersTools {
            messages.insert(["role": "system", "content": .string(format.systemPrompt(for: [weatherTool]))], at: 0)
            tools = .none
        }
        return try template.render([
            "messages": .array(messages), "tools": tools, "add_generation_prompt": true, "bos_token": "", "eos_token": "",
        ])
    }

    @Test(arguments: expectedFormats.map(\.fixture))
    func rendersCallsAndResults(fixture: String) throws {
        let template = try fixtureTemplate(fixture)
        let format = ToolCallFormat.detect(template: template)
        let text = try Self.renderConversation(template, format)
        #expect(text.contains("get_weather"))
        #expect(text.contains("Paris"))
        #expect(text.contains("temperature"))
    }

    @Test func qwenRendersTheCallAsItsModelWritesIt() throws {
        let template = try fixtureTemplate("gguf-qwen15")
        let text = try Self.renderConversation(template, ToolCallFormat.detect(template: template))
        #expect(text.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call><|im_end|>"))
        #expect(text.contains("<|im_start|>user\n<tool_response>\n{\"temperature\": 21}\n</tool_response><|im_end|>"))
        #expect(text.contains("\"name\": \"get_weather\""))
    }

    @Test func qwen3CoderRendersParametersAsXML() throws {
        let template = try fixtureTemplate("Qwen3-Coder")
        let text = try Self.renderConversation(template, ToolCallFormat.detect(template: template))
        #expect(text.contains("<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n</function>\n</tool_call>"))
    }

    @Test func llamaRendersParameters() throws {
        let template = try fixtureTemplate("meta-llama-Llama-3.1-8B-Instruct")
        let text = try Self.renderConversation(template, ToolCallFormat.detect(template: template))
        #expect(text.contains("{\"name\": \"get_weather\", \"parameters\": {\"location\": \"Paris\"}}"))
        // The template writes string results through `tojson` (a string is iterable), as it does under Python.
        #expect(text.contains("<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 21}\""))
    }

    @Test func mistralNemoGetsNineCharacterIDsThatMatch() throws {
        let template = try fixtureTemplate("mistralai-Mistral-Nemo-Instruct-2407")
        let format = ToolCallFormat.detect(template: template)
        let text = try Self.renderConversation(template, format)
        let id = format.templateCallID("call_abc123")
        #expect(id.count == 9)
        #expect(text.contains("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}, \"id\": \"\(id)\"}]"))
        #expect(text.contains("\"call_id\": \"\(id)\"}[/TOOL_RESULTS]"))
    }

    @Test func devstralRendersNameAndArgs() throws {
        let template = try fixtureTemplate("unsloth-mistral-Devstral-Small-2507")
        let text = try Self.renderConversation(template, ToolCallFormat.detect(template: template))
        #expect(text.contains("[TOOL_CALLS]get_weather[ARGS]{\"location\": \"Paris\"}"))
    }

    @Test func templatesWithoutToolsGetPlainMessages() throws {
        let template = try fixtureTemplate("gguf-smollm2")
        let format = ToolCallFormat.detect(template: template)
        let text = try Self.renderConversation(template, format)
        #expect(text.contains("<|im_start|>system\nYou have access to the following tools:"))
        #expect(text.contains("<|im_start|>assistant\n{\"name\":\"get_weather\",\"arguments\":{\"location\":\"Paris\"}}<|im_end|>"))
        #expect(text.contains("<|im_start|>user\nResult of the tool call get_weather:\n{\"temperature\": 21}<|im_end|>"))
    }

    @Test func templateToolsHaveOpenAIShape() {
        let tools = ToolCallFormat.genericJSON.templateTools([timeTool])
        let expected: TemplateValue = [[
            "type": "function",
            "function": ["name": "get_time", "description": "The current time.", "parameters": ["type": "object", "properties": [:]]],
        ]]
        #expect(tools == expected)
    }

    @Test func readsRequestShapes() {
        let tool = ToolDefinition(json: json(#"{"type":"function","function":{"name":"f","parameters":{}}}"#))
        #expect(tool == ToolDefinition(name: "f", parameters: ["type": "object"]))
        #expect(ToolChoice(json: "required") == .required)
        #expect(ToolChoice(json: json(#"{"type":"function","function":{"name":"f"}}"#)) == .function("f"))
        let openAICall = ToolCall.fromRequest(id: "x", name: "f", arguments: .string(#"{"a": 1}"#))
        #expect(openAICall.arguments == ["a": 1])
        let id = ToolCall.makeID()
        #expect(id.hasPrefix("call_") && id.count == 29)
    }

    /// OpenAI sends arguments as JSON text with ids; Ollama sends objects, and `tool_name`.
    static let requestMessages: [TemplateValue] = [
        ["role": "user", "content": "Weather in Paris and Rome?"],
        ["role": "assistant", "content": .none, "tool_calls": [
            ["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": "{\"location\":\"Paris\"}"]],
        ]],
        ["role": "tool", "tool_call_id": "call_1", "content": "sunny"],
        ["role": "assistant", "content": "", "tool_calls": [["function": ["name": "get_weather", "arguments": ["location": "Rome"]]]]],
        ["role": "tool", "tool_name": "get_weather", "content": "rainy"],
    ]

    @Test func convertsOpenAIAndOllamaHistory() throws {
        let template = try fixtureTemplate("gguf-qwen15")
        let format = ToolCallFormat.detect(template: template)
        let text = try template.render([
            "messages": .array(format.templateMessages(Self.requestMessages)), "tools": format.templateTools([weatherTool]),
            "add_generation_prompt": true, "bos_token": "", "eos_token": "",
        ])
        #expect(text.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Paris\"}}\n</tool_call>"))
        #expect(text.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"location\": \"Rome\"}}\n</tool_call>"))
        #expect(text.contains("<tool_response>\nsunny\n</tool_response>"))
        #expect(text.contains("<tool_response>\nrainy\n</tool_response>"))
    }

    @Test func convertsHistoryToPlainText() throws {
        let template = try ChatTemplate(source: BuiltinChatTemplates.gemma)
        let format = ToolCallFormat.detect(template: template)
        let text = try template.render([
            "messages": .array(format.templateMessages(Self.requestMessages)), "add_generation_prompt": true,
        ])
        #expect(text.contains("<start_of_turn>model\n{\"name\":\"get_weather\",\"arguments\":{\"location\":\"Paris\"}}<end_of_turn>"))
        #expect(text.contains("<start_of_turn>user\nResult of the tool call get_weather:\nrainy<end_of_turn>"))
        #expect(text.contains("<start_of_turn>user\nTool result:\nsunny<end_of_turn>"))
    }
}
