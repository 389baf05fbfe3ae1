import Store
import Engine
import Foundation
import Grammar
import JSON
import Sampling
import ToolCalls

/// A Messages request's conversation, ready for Hearth's chat machinery.
struct AnthropicConversation: Sendable {
    var plan: ChatPlan
    /// The text of a final assistant message: the answer continues it (Anthropic's "prefill")
    /// and holds only what comes after it.
    var prefill: String?
    /// `thinking.display: "omitted"`: the answer carries no thinking blocks.
    var omitsThinking = false

    /// The prompt `ChatPlan` renders (generation prompt included), then the prefill's tokens.
    /// Tokenised apart from the rendered text, so a prefill cannot spell special tokens; the
    /// generation prompt ends a template's turn header, where no token spans the seam.
    func prepare(_ loaded: LoadedModel) throws -> PreparedPrompt {
        var prepared = try plan.prepare(loaded)
        if let prefill, !prefill.isEmpty {
            prepared.tokens += loaded.tokenizer.encode(prefill, addSpecial: false, parseSpecial: false)
        }
        return prepared
    }

    /// The same conversation answered without tools (see `ChatPlan.answeringInText`).
    var answeringInText: AnthropicConversation {
        AnthropicConversation(plan: plan.answeringInText, prefill: prefill, omitsThinking: omitsThinking)
    }
}

/// The generation settings of a Messages request.
struct AnthropicSampling: Sendable {
    var options: GenerationOptions
    /// 0 computes the prompt (warming Hearth's prefix cache, as Anthropic's API allows) and
    /// answers nothing.
    var maxTokens: Int
    var stream: Bool
    /// A created model's `num_ctx`; nil: the server's `--ctx`.
    var contextLength: Int? = nil
}

/// Reads Anthropic's Messages requests (`/v1/messages`, `/v1/messages/count_tokens`): every
/// field is checked, and errors name it as Anthropic's clients spell it.
enum AnthropicRequest {
    /// The fields that shape the prompt, read by both routes.
    static let conversationFields: Set<String> = [
        "model", "messages", "system", "tools", "tool_choice", "output_config", "thinking", "cache_control",
        "context_management", "speed",
    ]
    /// The fields only generation reads.
    static let generationFields: Set<String> = [
        "max_tokens", "stop_sequences", "temperature", "top_p", "top_k", "stream", "metadata", "service_tier", "inference_geo",
    ]
    static let unsupportedFields: [String: String] = [
        "container": "containers belong to Anthropic's code execution tool, which Hearth does not run",
        "mcp_servers": "Hearth does not call MCP servers itself; put their tools in 'tools' and run the calls in the client",
        "diagnostics": "prompt-cache diagnostics are not reported",
    ]

    /// `max_tokens` (required), `temperature` (0…1), `top_p`, `top_k`, `stop_sequences`, `stream`,
    /// and the fields that change nothing on one local machine (checked, then ignored).
    /// `defaults`: a created model's PARAMETERs, replacing Anthropic's defaults where they set something.
    static func sampling(_ fields: RequestFields, defaults: ModelCustomization? = nil) throws(APIError) -> AnthropicSampling {
        guard let maxTokens = try fields.int("max_tokens", in: 0...Int(Int32.max)) else {
            throw .invalidField("max_tokens", "is required")
        }
        let model = try HearthServer.cloudDefaults(under: defaults)
        var sampling = model.generation.sampling
        if let temperature = try fields.number("temperature", in: 0...1) { sampling.temperature = Float(temperature) }
        if let topP = try fields.number("top_p", in: 0...1) { sampling.topP = Float(topP) }
        if let topK = try fields.int("top_k", in: 0...Int(Int32.max)) { sampling.topK = topK }
        let stream = try fields.bool("stream") ?? false
        if let metadata = fields.value("metadata") {
            let metadataFields = try RequestFields(metadata, path: "metadata.")
            try metadataFields.rejectUnknown(known: ["user_id"])
            _ = try metadataFields.string("user_id")
        }
        // One machine, one tier and one place: both tiers and any region are what it serves.
        if let tier = try fields.string("service_tier"), !["auto", "standard_only"].contains(tier) {
            throw .invalidField("service_tier", "expected 'auto' or 'standard_only', got '\(tier)'")
        }
        _ = try fields.string("inference_geo")
        let stop = fields.value("stop_sequences") == nil ? model.generation.stop : try stopSequences(fields)
        let options = GenerationOptions(maxTokens: 0, sampling: try sampling.checked(), stop: stop)
        return AnthropicSampling(options: options, maxTokens: maxTokens, stream: stream, contextLength: model.contextLength)
    }

    /// `stop_sequences`: a list of strings (Anthropic takes no bare string).
    static func stopSequences(_ fields: RequestFields) throws(APIError) -> [String] {
        guard let value = fields.value("stop_sequences") else { return [] }
        guard case .array = value else {
            throw .invalidField("stop_sequences", "expected a list of strings, got \(value.typeName)")
        }
        return try fields.stopStrings("stop_sequences", limit: 64)
    }

    /// Everything that shapes the prompt: system, messages, tools, tool choice, output format.
    /// Compiles the grammars, so it belongs off the event loop.
    static func conversation(_ fields: RequestFields) throws(APIError) -> AnthropicConversation {
        let messages = try Self.turns(fields.value("messages"))
        var turns = messages.turns
        if let system = try systemText(fields.value("system")) {
            turns.insert(.plain(role: "system", content: steadyBillingHeader(system), name: nil), at: 0)
        }
        let tools = try Self.tools(fields.value("tools"))
        let (choice, parallel) = try Self.choice(fields.value("tool_choice"), tools: tools)
        let format = try outputFormat(fields.value("output_config"))
        // Compiled here, so a schema Hearth cannot enforce is refused before a model loads.
        let grammar = try format?.grammar(field: "output_config.format.schema")
        let thinking = try Self.thinking(fields.value("thinking"))
        try checkCacheControl(fields)
        if let speed = try fields.string("speed"), !["standard", "fast"].contains(speed) {
            throw .invalidField("speed", "expected 'standard' or 'fast', got '\(speed)'")
        }
        // Edits that drop old thinking (Hearth keeps none) or old tool results as the context
        // fills: Hearth sends the whole conversation, and refuses one too long for the context.
        if let management = fields.value("context_management") {
            guard case .object = management else { throw .invalidField("context_management", "expected an object, got \(management.typeName)") }
        }
        let request = tools.isEmpty ? nil : ToolRequest(tools: tools, choice: choice, parallel: parallel)
        return AnthropicConversation(plan: ChatPlan(turns: turns, tools: request, responseFormat: format, responseGrammar: grammar,
                                                    thinking: thinking.enabled),
                                     prefill: messages.prefill, omitsThinking: thinking.omitted)
    }

    // MARK: messages

    /// `system`: a string or a list of text blocks.
    static func systemText(_ value: JSONValue?) throws(APIError) -> String? {
        switch value {
        case nil: return nil
        case .string(let text)?: return text
        case .array(let blocks)?: return try textBlocks(blocks, field: "system")
        case let other?: throw .invalidField("system", "expected a string or a list of text blocks, got \(other.typeName)")
        }
    }

    /// Claude Code starts its system prompt with a billing line whose `cch=` stamp changes on
    /// every request: left in, no prompt would share more than a few tokens with the one before,
    /// and the prefix cache would compute the whole (long) prompt again each turn. The stamp
    /// tells the model nothing, so it is made constant (as llama-server does).
    static func steadyBillingHeader(_ system: String) -> String {
        guard system.hasPrefix("x-anthropic-billing-header:") else { return system }
        let line = system.prefix { $0 != "\n" }
        guard let stamp = line.range(of: "cch=") else { return system }
        let end = line[stamp.upperBound...].firstIndex(of: ";") ?? line.endIndex
        var steady = system
        steady.replaceSubrange(stamp.upperBound..<end, with: "00000")
        return steady
    }

    /// `messages` as chat turns, and the final assistant message's text when the answer is to
    /// continue it. Consecutive user (or assistant) messages are one turn, as Anthropic reads
    /// them — and as templates that insist on alternating roles need.
    static func turns(_ value: JSONValue?) throws(APIError) -> (turns: [ChatTurn], prefill: String?) {
        guard case .array(let messages)? = value else {
            throw .invalidField("messages", value == nil ? "is required" : "expected a list of messages, got \(value!.typeName)")
        }
        guard !messages.isEmpty else { throw .invalidField("messages", "must not be empty") }
        guard messages.count <= 100_000 else { throw .invalidField("messages", "at most 100000 messages, got \(messages.count)") }
        var turns: [ChatTurn] = []
        var lastRole = ""
        for (index, message) in messages.enumerated() {
            let path = "messages[\(index)]"
            let fields = try RequestFields(message, path: path + ".")
            try fields.rejectUnknown(known: ["role", "content"])
            let role = try fields.requiredString("role")
            let isFinal = index == messages.count - 1
            switch role {
            case "user": try appendUser(fields, path: path, to: &turns)
            case "assistant": try appendAssistant(fields, path: path, isFinal: isFinal, to: &turns)
            case "system":
                let content = try requiredContent(fields, path: path)
                let text: String
                switch content {
                case .string(let string): text = string
                case .array(let blocks): text = try textBlocks(blocks, field: path + ".content")
                default: throw .invalidField(path + ".content", "expected a string or a list of text blocks, got \(content.typeName)")
                }
                turns.append(.plain(role: "system", content: text, name: nil))
            default:
                throw .invalidField(path + ".role", "expected 'user' or 'assistant', got '\(role)'")
            }
            lastRole = role
        }
        guard lastRole == "assistant" else { return (turns, nil) }
        switch turns.last {
        case .plain("assistant", let text, _, _)?:
            turns.removeLast()
            return (turns, text)
        case .toolCalls?:
            throw .invalidField("messages[\(messages.count - 1)].content",
                                "ends with tool_use blocks; answer them with tool_result blocks in a user message after it")
        default:
            return (turns, nil)
        }
    }

    /// A message's `content`: a non-empty string or list of blocks.
    static func requiredContent(_ fields: RequestFields, path: String, emptyAllowed: Bool = false) throws(APIError) -> JSONValue {
        guard let content = fields.value("content") else { throw .invalidField(path + ".content", "is required") }
        let isEmpty: Bool
        switch content {
        case .string(let text): isEmpty = text.isEmpty
        case .array(let blocks): isEmpty = blocks.isEmpty
        default: throw .invalidField(path + ".content", "expected a string or a list of content blocks, got \(content.typeName)")
        }
        if isEmpty && !emptyAllowed { throw .invalidField(path + ".content", "must not be empty") }
        return content
    }

    /// A user message: text, and tool_result blocks answering the calls of the message before.
    static func appendUser(_ fields: RequestFields, path: String, to turns: inout [ChatTurn]) throws(APIError) {
        let content = try requiredContent(fields, path: path)
        guard case .array(let blocks) = content else {
            if case .string(let text) = content { appendMerging(.plain(role: "user", content: text, name: nil), to: &turns) }
            return
        }
        var texts: [String] = []
        for (index, block) in blocks.enumerated() {
            let blockPath = "\(path).content[\(index)]"
            let blockFields = try RequestFields(block, path: blockPath + ".")
            switch try blockFields.requiredString("type") {
            case "text":
                texts.append(try blockText(blockFields))
            case "tool_result":
                // Text before a result stays before it.
                if !texts.isEmpty { appendMerging(.plain(role: "user", content: texts.joined(separator: "\n"), name: nil), to: &turns) }
                texts = []
                turns.append(try toolResult(blockFields, path: blockPath, after: turns))
            case "tool_use":
                throw .invalidField(blockPath + ".type", "tool_use blocks belong in assistant messages")
            case let type:
                throw unsupportedBlock(type, at: blockPath, expected: "'text' or 'tool_result'")
            }
        }
        if !texts.isEmpty { appendMerging(.plain(role: "user", content: texts.joined(separator: "\n"), name: nil), to: &turns) }
    }

    /// An assistant message: text, tool_use and thinking blocks. The thinking goes to the template
    /// with the turn (templates write it back only where their model expects it, as in a tool
    /// loop); redacted thinking is another model's, unreadable, and dropped.
    static func appendAssistant(_ fields: RequestFields, path: String, isFinal: Bool, to turns: inout [ChatTurn]) throws(APIError) {
        let content = try requiredContent(fields, path: path, emptyAllowed: isFinal)
        guard case .array(let blocks) = content else {
            if case .string(let text) = content { appendMerging(.plain(role: "assistant", content: text, name: nil), to: &turns) }
            return
        }
        var texts: [String] = []
        var calls: [ToolCall] = []
        var thoughts: [String] = []
        for (index, block) in blocks.enumerated() {
            let blockPath = "\(path).content[\(index)]"
            let blockFields = try RequestFields(block, path: blockPath + ".")
            switch try blockFields.requiredString("type") {
            case "text":
                texts.append(try blockText(blockFields))
            case "tool_use":
                calls.append(try toolUse(blockFields, path: blockPath))
            case "thinking":
                try blockFields.rejectUnknown(known: ["type", "thinking", "signature"])
                thoughts.append(try blockFields.requiredString("thinking"))
                _ = try blockFields.string("signature")
            case "redacted_thinking":
                try blockFields.rejectUnknown(known: ["type", "data"])
                _ = try blockFields.requiredString("data")
            case "tool_result":
                throw .invalidField(blockPath + ".type", "tool_result blocks belong in user messages")
            case let type:
                throw unsupportedBlock(type, at: blockPath, expected: "'text' or 'tool_use'")
            }
        }
        let joined = texts.joined(separator: "\n")
        let reasoning = thoughts.filter { !$0.isEmpty }.joined(separator: "\n")
        if !calls.isEmpty {
            turns.append(.toolCalls(content: joined.isEmpty ? nil : joined, calls: calls, reasoning: reasoning.isEmpty ? nil : reasoning))
        } else if !reasoning.isEmpty && !isFinal {
            turns.append(.plain(role: "assistant", content: joined, name: nil, reasoning: reasoning))
        } else if !texts.isEmpty || isFinal {
            appendMerging(.plain(role: "assistant", content: joined, name: nil), to: &turns)
        }
    }

    /// Appends `turn`, joining it to the turn before when both are plain text of the same role.
    static func appendMerging(_ turn: ChatTurn, to turns: inout [ChatTurn]) {
        if case .plain(let role, let text, nil, _) = turn, case .plain(role, let previous, nil, _)? = turns.last, role != "system" {
            turns[turns.count - 1] = .plain(role: role, content: previous.isEmpty ? text : text.isEmpty ? previous : previous + "\n\n" + text,
                                            name: nil)
        } else {
            turns.append(turn)
        }
    }

    /// `{"type": "tool_use", "id", "name", "input": {…}}`.
    static func toolUse(_ fields: RequestFields, path: String) throws(APIError) -> ToolCall {
        try fields.rejectUnknown(known: ["type", "id", "name", "input", "cache_control", "caller"])
        try checkCacheControl(fields)
        let id = try fields.requiredString("id")
        let name = try fields.requiredString("name")
        guard let input = fields.value("input") else { throw .invalidField(path + ".input", "is required") }
        guard case .object = input else { throw .invalidField(path + ".input", "expected an object, got \(input.typeName)") }
        if let caller = fields.value("caller") {
            // Calls made by Anthropic's code execution tool ran there; only direct calls are history Hearth can render.
            let type = try RequestFields(caller, path: path + ".caller.").requiredString("type")
            guard type == "direct" else { throw .unsupported(path + ".caller.type", "only calls the model made directly, got '\(type)'") }
        }
        return ToolCall(id: id, name: name, arguments: input)
    }

    /// `{"type": "tool_result", "tool_use_id", "content": string or text blocks, "is_error"}`.
    static func toolResult(_ fields: RequestFields, path: String, after turns: [ChatTurn]) throws(APIError) -> ChatTurn {
        try fields.rejectUnknown(known: ["type", "tool_use_id", "content", "is_error", "cache_control"])
        try checkCacheControl(fields)
        let id = try fields.requiredString("tool_use_id")
        var content: String
        switch fields.value("content") {
        case nil: content = ""
        case .string(let text)?: content = text
        case .array(let blocks)?: content = try textBlocks(blocks, field: path + ".content")
        case let other?: throw .invalidField(path + ".content", "expected a string or a list of text blocks, got \(other.typeName)")
        }
        if try fields.bool("is_error") == true {
            // Chat templates have no place for the flag: the model reads it in the result.
            content = content.isEmpty ? "Error" : "Error: " + content
        }
        return .toolResult(content: content, callID: id, name: ToolFields.callName(id, in: turns))
    }

    /// Text blocks joined by newlines; any other block is refused, naming it.
    static func textBlocks(_ blocks: [JSONValue], field: String) throws(APIError) -> String {
        var texts: [String] = []
        for (index, block) in blocks.enumerated() {
            let path = "\(field)[\(index)]"
            let fields = try RequestFields(block, path: path + ".")
            let type = try fields.requiredString("type")
            guard type == "text" else { throw unsupportedBlock(type, at: path, expected: "'text'") }
            texts.append(try blockText(fields))
        }
        return texts.joined(separator: "\n")
    }

    /// `{"type": "text", "text", "cache_control", "citations"}`: citations point into documents
    /// an earlier answer quoted, and carry nothing the model reads.
    static func blockText(_ fields: RequestFields) throws(APIError) -> String {
        try fields.rejectUnknown(known: ["type", "text", "cache_control", "citations"])
        try checkCacheControl(fields)
        if let citations = fields.value("citations") {
            guard case .array = citations else { throw .invalidField(fields.path + "citations", "expected a list, got \(citations.typeName)") }
        }
        return try fields.requiredString("text")
    }

    static func unsupportedBlock(_ type: String, at path: String, expected: String) -> APIError {
        switch type {
        case "image", "document", "search_result", "container_upload":
            return .unsupported(path, "'\(type)' blocks need a model that reads them; Hearth serves text models (send \(expected) blocks)")
        case "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
             "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result", "tool_reference":
            return .unsupported(path, "'\(type)' blocks come from Anthropic's server tools, which Hearth does not run")
        default:
            return .invalidField(path + ".type", "expected \(expected), got '\(type)'")
        }
    }

    /// `cache_control` marks where Anthropic should cache the prompt; Hearth caches every
    /// prompt's prefix unasked, so it is checked and otherwise changes nothing.
    static func checkCacheControl(_ fields: RequestFields) throws(APIError) {
        guard let value = fields.value("cache_control") else { return }
        let control = try RequestFields(value, path: fields.path + "cache_control.")
        try control.rejectUnknown(known: ["type", "ttl"])
        let type = try control.requiredString("type")
        guard type == "ephemeral" else { throw .invalidField(fields.path + "cache_control.type", "expected 'ephemeral', got '\(type)'") }
        if let ttl = try control.string("ttl"), !["5m", "1h"].contains(ttl) {
            throw .invalidField(fields.path + "cache_control.ttl", "expected '5m' or '1h', got '\(ttl)'")
        }
    }

    // MARK: tools and output

    /// Tool names as Anthropic allows them.
    static func isValidToolName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }
    }

    /// `tools`: `[{"name", "description", "input_schema"}]` (client tools, `type` absent or
    /// `custom`). Each schema must compile to a grammar (checked here, before any model loads).
    static func tools(_ value: JSONValue?) throws(APIError) -> [ToolDefinition] {
        guard let value else { return [] }
        guard case .array(let list) = value else { throw .invalidField("tools", "expected a list of tools, got \(value.typeName)") }
        guard list.count <= 256 else { throw .invalidField("tools", "at most 256 tools, got \(list.count)") }
        var tools: [ToolDefinition] = []
        for (index, item) in list.enumerated() {
            let path = "tools[\(index)]"
            let fields = try RequestFields(item, path: path + ".")
            // First: Anthropic's own tools carry fields of their own.
            if let type = try fields.string("type"), type != "custom" {
                throw .unsupported(path + ".type", "'\(type)' is one of Anthropic's built-in tools, whose schema (and, for server tools, "
                                   + "whose running) lives at Anthropic; give Hearth a custom tool with 'name', 'description' and 'input_schema'")
            }
            try fields.rejectUnknown(
                known: ["type", "name", "description", "input_schema", "cache_control", "strict", "eager_input_streaming", "defer_loading"],
                unsupported: ["input_examples": "example inputs are not shown to the model",
                              "allowed_callers": "tools are called by the model only (Hearth runs no code execution tool)"])
            let name = try fields.requiredString("name")
            guard isValidToolName(name) else {
                throw .invalidField(path + ".name", "must be 1 to 128 letters, digits, '_' or '-', got '\(name)'")
            }
            guard !tools.contains(where: { $0.name == name }) else { throw .invalidField(path + ".name", "'\(name)' is offered twice") }
            try checkCacheControl(fields)
            // Hearth holds every call to its tool's schema: `strict` is how it always works.
            _ = try fields.bool("strict")
            // Each call's input is streamed whole once decided, whatever this asks.
            _ = try fields.bool("eager_input_streaming")
            if try fields.bool("defer_loading") == true {
                throw .unsupported(path + ".defer_loading", "there is no tool search: every tool is in the prompt")
            }
            guard let schema = fields.value("input_schema") else { throw .invalidField(path + ".input_schema", "is required") }
            guard case .object(let object) = schema else {
                throw .invalidField(path + ".input_schema", "expected a JSON Schema object, got \(schema.typeName)")
            }
            let parameters: JSONValue = object.pairs.isEmpty ? ["type": "object", "properties": .object([:])] : schema
            do {
                _ = try GBNFBuilder().addSchema(parameters, name: "arguments")
            } catch {
                throw .invalidField(path + ".input_schema", "\(error)")
            }
            tools.append(ToolDefinition(name: name, description: try fields.string("description"), parameters: parameters))
        }
        return tools
    }

    /// `tool_choice`: `{"type": "auto" | "any" | "tool" (with "name") | "none", "disable_parallel_tool_use"}`.
    static func choice(_ value: JSONValue?, tools: [ToolDefinition]) throws(APIError) -> (ToolChoice, parallel: Bool) {
        guard let value else { return (.auto, true) }
        let fields = try RequestFields(value, path: "tool_choice.")
        try fields.rejectUnknown(known: ["type", "name", "disable_parallel_tool_use"])
        let parallel = !(try fields.bool("disable_parallel_tool_use") ?? false)
        let type = try fields.requiredString("type")
        if type != "tool", fields.value("name") != nil {
            throw .invalidField("tool_choice.name", "only a choice of type 'tool' names a tool")
        }
        switch type {
        case "auto": return (.auto, parallel)
        case "none": return (.none, parallel)
        case "any":
            guard !tools.isEmpty else { throw .invalidField("tool_choice.type", "'any' needs at least one tool in 'tools'") }
            return (.required, parallel)
        case "tool":
            let name = try fields.requiredString("name")
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalidField("tool_choice.name", "'\(name)' is not one of the tools offered")
            }
            return (.function(name), parallel)
        default:
            throw .invalidField("tool_choice.type", "expected 'auto', 'any', 'tool' or 'none', got '\(type)'")
        }
    }

    /// `output_config`: `format` (`{"type": "json_schema", "schema"}`) constrains the answer;
    /// `effort` tunes a reasoning model's thinking, and Hearth serves none (checked, ignored).
    static func outputFormat(_ value: JSONValue?) throws(APIError) -> ResponseFormat? {
        guard let value else { return nil }
        let fields = try RequestFields(value, path: "output_config.")
        try fields.rejectUnknown(known: ["effort", "format"])
        if let effort = try fields.string("effort"), !["low", "medium", "high", "xhigh", "max"].contains(effort) {
            throw .invalidField("output_config.effort", "expected 'low', 'medium', 'high', 'xhigh' or 'max', got '\(effort)'")
        }
        guard let format = fields.value("format") else { return nil }
        let formatFields = try RequestFields(format, path: "output_config.format.")
        try formatFields.rejectUnknown(known: ["type", "schema"])
        let type = try formatFields.requiredString("type")
        guard type == "json_schema" else { throw .invalidField("output_config.format.type", "expected 'json_schema', got '\(type)'") }
        guard let schema = formatFields.value("schema") else { throw .invalidField("output_config.format.schema", "is required") }
        guard case .object = schema else { throw .invalidField("output_config.format.schema", "expected an object, got \(schema.typeName)") }
        return .schema(schema)
    }

    /// `thinking`: `enabled` and `disabled` turn a reasoning model's thinking on and off (its
    /// template's `enable_thinking`); `adaptive`, `between_tools` or absent leave the template's
    /// default. A model that cannot think answers without thinking blocks, as other
    /// Anthropic-compatible servers answer it. `budget_tokens` is checked: the answer's
    /// `max_tokens` bounds thinking and text together, as Anthropic's does.
    static func thinking(_ value: JSONValue?) throws(APIError) -> (enabled: Bool?, omitted: Bool) {
        guard let value else { return (nil, false) }
        let fields = try RequestFields(value, path: "thinking.")
        try fields.rejectUnknown(known: ["type", "budget_tokens", "display"])
        let type = try fields.requiredString("type")
        var enabled: Bool?
        switch type {
        case "enabled":
            guard try fields.int("budget_tokens", in: 1024...Int(Int32.max)) != nil else {
                throw .invalidField("thinking.budget_tokens", "is required when thinking is enabled")
            }
            enabled = true
        case "disabled", "adaptive", "between_tools":
            if fields.value("budget_tokens") != nil {
                throw .invalidField("thinking.budget_tokens", "only with 'type': 'enabled'")
            }
            if type == "disabled" { enabled = false }
        default:
            throw .invalidField("thinking.type", "expected 'enabled', 'disabled' or 'adaptive', got '\(type)'")
        }
        if let display = try fields.string("display"), !["summarized", "omitted"].contains(display) {
            throw .invalidField("thinking.display", "expected 'summarized' or 'omitted', got '\(display)'")
        }
        return (enabled, try fields.string("display") == "omitted")
    }
}
