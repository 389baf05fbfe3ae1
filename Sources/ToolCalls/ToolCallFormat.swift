import Grammar
import JSON
import Templates

/// How a model family writes tool calls, found from its chat template.
public struct ToolCallFormat: Sendable, Equatable {
    /// The syntax families Hearth knows.
    enum Family: Sendable, Equatable {
        /// `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` (Hermes, Qwen2.5, Qwen3).
        case hermes
        /// `{"name": …, "parameters": {…}}`, possibly after `<|python_tag|>` (Llama 3.x).
        case llama3JSON
        /// `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]` (Mistral Nemo and older).
        case mistralArray
        /// `[TOOL_CALLS]name[ARGS]{…}` (Devstral, Ministral 3, Mistral Small 3.2 with `[CALL_ID]id`).
        case mistralNamed(callIDs: Bool)
        /// `<tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n</function>\n</tool_call>`.
        case qwen3Coder
        /// A bare `{"name": …, "arguments": {…}}`, which Hearth's system prompt asks for.
        case genericJSON
    }

    var family: Family
    /// Whether the template expects `tool_calls[].function.arguments` as JSON text rather than an object.
    var argumentsAsText: Bool

    /// "hermes", "llama3-json", "mistral", "qwen3-coder" or "generic-json": for logs and tests.
    public var name: String {
        switch family {
        case .hermes: "hermes"
        case .llama3JSON: "llama3-json"
        case .mistralArray, .mistralNamed: "mistral"
        case .qwen3Coder: "qwen3-coder"
        case .genericJSON: "generic-json"
        }
    }

    /// Whether to let the template render `tools`. False when it doesn't render them at all, or
    /// writes calls in a syntax Hearth doesn't parse (Kimi, DeepSeek, GLM, gpt-oss, …). When
    /// false: don't pass `tools` to the template, add `systemPrompt(for:)` as (or into) the
    /// system message; `assistantMessage`, `toolResultMessage` and `templateMessages` then give
    /// plain-text messages any template can render.
    public var templateRendersTools: Bool

    init(family: Family, templateRendersTools: Bool, argumentsAsText: Bool = false) {
        self.family = family
        self.templateRendersTools = templateRendersTools
        self.argumentsAsText = argumentsAsText
    }

    /// The format for templates that don't render tools: Hearth's system prompt and bare JSON calls.
    public static let genericJSON = ToolCallFormat(family: .genericJSON, templateRendersTools: false)

    /// Renders `template` with and without tools, and with an assistant message carrying a tool
    /// call, to find how the family writes calls (as llama.cpp's auto-parser does).
    public static func detect(template: ChatTemplate) -> ToolCallFormat {
        FormatDetection(template: template).format()
    }

    /// Instructions and tool list for templates that don't render tools.
    public func systemPrompt(for tools: [ToolDefinition]) -> String {
        var prompt = "You have access to the following tools:\n"
        for tool in tools {
            var function = JSONObject([("name", .string(tool.name))])
            if let description = tool.description { function["description"] = .string(description) }
            function["parameters"] = tool.parameters
            prompt += "\n" + JSONValue.object(function).serialized
        }
        prompt += """


        To call a tool, reply with only a JSON object in this form and nothing else:
        {"name": "<tool name>", "arguments": {<the arguments as a JSON object>}}
        To call several tools, write one such object per line. If no tool is needed, answer normally.
        """
        return prompt
    }

    /// The template's `tools` variable, in OpenAI's shape:
    /// `[{"type":"function","function":{"name","description","parameters"}}]`.
    public func templateTools(_ tools: [ToolDefinition]) -> TemplateValue {
        .array(tools.map { tool in
            var parameters = tool.parameters
            // Several templates iterate `parameters.properties` without checking it exists.
            if case .object(var schema) = parameters, schema["properties"] == nil, schema["type"] == .string("object") {
                schema["properties"] = .object(JSONObject())
                parameters = .object(schema)
            }
            let function = TemplateObject([
                ("name", .string(tool.name)),
                // Some templates concatenate the description, which fails on an undefined value.
                ("description", .string(tool.description ?? "")),
                ("parameters", templateValue(parameters)),
            ])
            return .object(TemplateObject([("type", "function"), ("function", .object(function))]))
        })
    }

    /// The grammar for the calls. `.required`/`.function`: active from the first token (output =
    /// calls only; `parallel` allows several). `.auto`: lazy, switched on by `triggers`. `.none`
    /// or no tools: nil. Throws when a `.function` name is not among `tools`.
    public func constraint(tools: [ToolDefinition], choice: ToolChoice, parallel: Bool) throws(GrammarError) -> ToolConstraint? {
        try ToolGrammar(family: family, tools: tools).constraint(choice: choice, parallel: parallel)
    }

    /// For a request that offers tools in `auto` mode and also asks for structured output: from
    /// the first token, the output is either this family's calls or an answer matching
    /// `answerSchema` (nil: any JSON object). Neither the calls nor the answer format is dropped.
    public func constraint(tools: [ToolDefinition], parallel: Bool, orAnswer answerSchema: JSONValue?) throws(GrammarError) -> ToolConstraint {
        guard let (builder, _) = try ToolGrammar(family: family, tools: tools).rules(choice: .required, parallel: parallel) else {
            throw GrammarError(location: "tools", reason: "no tools to call")
        }
        let answer = try builder.addSchema(answerSchema ?? ["type": "object"], name: "answer")
        builder.addRule("root", "tc-calls | \(answer)")
        return ToolConstraint(grammar: try builder.build(root: "root"), triggers: [])
    }

    /// A parser for this model's output. It recognises every family's syntax (models don't always
    /// use their template's markers), bare and fenced JSON calls included.
    public func makeParser(tools: [ToolDefinition]) -> ToolCallParser {
        ToolCallParser(tools: tools)
    }
}

/// A JSON value as a template variable (key order and integer-ness kept).
public func templateValue(_ value: JSONValue) -> TemplateValue {
    switch value {
    case .null: .none
    case .bool(let flag): .bool(flag)
    case .int(let number): .int(number)
    case .double(let number): .double(number)
    case .string(let text): .string(text)
    case .array(let items): .array(items.map(templateValue))
    case .object(let object): .object(TemplateObject(object.pairs.map { ($0.key, templateValue($0.value)) }))
    }
}
