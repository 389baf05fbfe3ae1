import Foundation
import Templates

/// Finds a template's tool-call format by rendering probe conversations and looking at what
/// the template writes around a known tool name, as llama.cpp's auto-parser does. Names are
/// unusual so they can't collide with the template's own text.
struct FormatDetection {
    let template: ChatTemplate

    static let toolName = "hearth_probe_tool"
    static let argumentName = "hearth_probe_argument"
    static let argumentValue = "hearth_probe_value"
    static let userText = "hearth probe request"
    /// Nine letters and digits: Mistral Nemo's template rejects other ids.
    static let callID = "probe0001"

    func format() -> ToolCallFormat {
        guard let withTools = render(messages: [Self.userMessage], tools: true),
              withTools.contains(Self.toolName)
        else { return .genericJSON }
        // The call as the template writes it: the text after the user's turn.
        for argumentsAsText in [false, true] {
            guard let rendered = render(messages: [Self.userMessage, Self.assistantCall(argumentsAsText: argumentsAsText)], tools: true),
                  let userEnd = rendered.range(of: Self.userText, options: .backwards)?.upperBound
            else { continue }
            let callText = String(rendered[userEnd...])
            guard callText.contains(Self.toolName), callText.contains(Self.argumentValue) else { continue }
            if let family = Self.family(fromCall: callText) {
                return ToolCallFormat(family: family, templateRendersTools: true, argumentsAsText: argumentsAsText)
            }
            break
        }
        if let family = Self.family(fromToolsPrompt: withTools) {
            return ToolCallFormat(family: family, templateRendersTools: true)
        }
        // The template has a tool syntax Hearth doesn't parse (Kimi, DeepSeek, GLM, gpt-oss, …):
        // leave its tools section out and ask for JSON calls instead, which Hearth can read.
        return .genericJSON
    }

    /// The family from a rendered assistant tool call.
    static func family(fromCall text: String) -> ToolCallFormat.Family? {
        let compact = text.filter { !$0.isWhitespace }
        if compact.contains("<tool_call><function=\(toolName)><parameter=") { return .qwen3Coder }
        if text.contains("[TOOL_CALLS]\(toolName)") || text.contains("[TOOL_CALLS] \(toolName)") {
            return .mistralNamed(callIDs: text.contains("[CALL_ID]"))
        }
        if compact.contains("[TOOL_CALLS][{") { return .mistralArray }
        if compact.contains("<tool_call>{\"name\":\"\(toolName)\"") { return .hermes }
        if compact.contains("{\"name\":\"\(toolName)\",\"parameters\":{") { return .llama3JSON }
        return nil
    }

    /// The family from the tools section of the prompt, for templates whose rendered calls
    /// didn't show it.
    static func family(fromToolsPrompt text: String) -> ToolCallFormat.Family? {
        let compact = text.filter { !$0.isWhitespace }
        if compact.contains("<tool_call><function=") { return .qwen3Coder }
        if compact.contains("<tool_call>{\"name\"") { return .hermes }
        if text.contains("\"parameters\": dictionary") { return .llama3JSON }
        return nil
    }

    private func render(messages: [TemplateValue], tools: Bool) -> String? {
        let variables: [String: TemplateValue] = [
            "messages": .array(messages),
            "tools": tools ? Self.tools : .none,
            "add_generation_prompt": .bool(false),
            "bos_token": "",
            "eos_token": "",
        ]
        return try? template.render(variables)
    }

    static let userMessage: TemplateValue = ["role": "user", "content": .string(userText)]

    static var tools: TemplateValue {
        let parameters: TemplateValue = [
            "type": "object",
            "properties": [argumentName: ["type": "string", "description": "A probe argument."]],
            "required": [.string(argumentName)],
        ]
        return [["type": "function", "function": ["name": .string(toolName), "description": "A probe tool.", "parameters": parameters]]]
    }

    static func assistantCall(argumentsAsText: Bool) -> TemplateValue {
        let arguments: TemplateValue = argumentsAsText
            ? .string("{\"\(argumentName)\": \"\(argumentValue)\"}")
            : .object(TemplateObject([(argumentName, .string(argumentValue))]))
        let call: TemplateValue = [
            "id": .string(callID), "type": "function",
            "function": ["name": .string(toolName), "arguments": arguments],
        ]
        return ["role": "assistant", "content": "", "tool_calls": [call]]
    }
}
