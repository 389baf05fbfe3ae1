import Engine
import Foundation
import Remote
import Grammar
import JSON
import Templates
import ToolCalls

/// A chat message as the APIs send it, before the model's template decides how tool calls and
/// tool results are written.
enum ChatTurn: Sendable {
    /// system, user, or assistant without calls; `reasoning`: an assistant turn's thoughts, as
    /// the client sent them back (`reasoning_content`, Ollama's `thinking`).
    case plain(role: String, content: String, name: String?, reasoning: String? = nil)
    /// An assistant turn that called tools (its text, if any, came first).
    case toolCalls(content: String?, calls: [ToolCall], reasoning: String? = nil)
    /// The result of a call.
    case toolResult(content: String, callID: String?, name: String?)
}

/// Text beside tool calls that says nothing: the stray bracket or newline small models write
/// before a call (Qwen2.5-Coder often opens a bare JSON call with a "{{" token, leaving "{" as
/// text). While calls may come, such text is held back; it goes out once it holds a letter or
/// digit, and is dropped when the answer turns out to be calls.
struct HeldContent {
    private var pending = ""

    /// The text to send now, if any.
    mutating func add(_ text: String) -> String? {
        pending += text
        guard pending.count > 16 || !Self.isNegligible(pending) else { return nil }
        defer { pending = "" }
        return pending
    }

    /// What is still held at the end: sent only when the answer called no tools.
    mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }

    static func isNegligible(_ text: String) -> Bool { !text.contains { $0.isLetter || $0.isNumber } }
}

/// What the output must look like: a JSON Schema, any JSON object, or free text.
enum ResponseFormat: Sendable {
    case jsonObject
    case schema(JSONValue)

    /// Compiles the grammar; a schema Hearth cannot enforce is a 400 naming the keyword's path.
    func grammar(field: String) throws(APIError) -> Grammar {
        switch self {
        case .jsonObject: return Grammar.jsonObject()
        case .schema(let schema):
            do {
                return try Grammar.jsonSchema(schema)
            } catch {
                throw APIError.invalidField(field, "\(error)")
            }
        }
    }
}

/// The tools a request offers and how the model may use them.
struct ToolRequest: Sendable {
    var tools: [ToolDefinition]
    var choice: ToolChoice
    var parallel: Bool

    /// Whether the output may hold calls.
    var isActive: Bool { !tools.isEmpty && choice != .none }
}

/// Everything a chat request asks of the output, turned into a prompt, a constraint and a
/// parser once the model (and so its chat template) is known.
struct ChatPlan: Sendable {
    var turns: [ChatTurn]
    var tools: ToolRequest?
    var responseFormat: ResponseFormat? = nil
    /// The response format's grammar, compiled when the request was read.
    var responseGrammar: Grammar? = nil
    /// OpenAI's `reasoning_effort` (Ollama's `think` level), given to the chat template as the
    /// variable `reasoning_effort`: gpt-oss's template writes it into its system message
    /// (`Reasoning: high`); templates of models that do not reason never read it.
    var reasoningEffort: String? = nil
    /// Whether the model should reason before it answers (Ollama's `think`), given to the chat
    /// template as `enable_thinking` (Qwen3's switch); nil: the template's own default.
    var thinking: Bool? = nil
    /// Refuse a model whose template writes no reasoning (Ollama's `think: true`); other APIs
    /// answer such a model without thoughts.
    var requiresReasoning = false
    /// Further template variables the request names (llama-server's `chat_template_kwargs`);
    /// the fields above and the tools win over them.
    var templateArguments: [String: TemplateValue] = [:]

    /// The conversation as plain chat messages, for the router's remote tier: only a text
    /// conversation without tools or a response format is sent (nil otherwise).
    var remoteConversation: [Remote.ChatMessage]? {
        guard tools?.isActive != true, responseFormat == nil else { return nil }
        var messages: [Remote.ChatMessage] = []
        for turn in turns {
            guard case .plain(let role, let content, _, _) = turn else { return nil }
            messages.append(Remote.ChatMessage(role: role, content: content))
        }
        return messages
    }

    /// The prompt tokens, the grammar (if any) and the tool-call parser (when calls may come).
    func prepare(_ loaded: LoadedModel) throws -> PreparedPrompt {
        let chat = try loaded.chatFormat()
        let format = ToolFormatCache.shared.format(for: chat.template)
        var extra = templateArguments
        if let reasoningEffort { extra["reasoning_effort"] = .string(reasoningEffort) }
        if let thinking { extra["enable_thinking"] = .bool(thinking) }
        var turns = self.turns
        let calling = tools?.isActive == true ? tools : nil
        if let calling {
            if format.templateRendersTools {
                extra["tools"] = format.templateTools(calling.tools)
            } else {
                turns = Self.addingSystemText(format.systemPrompt(for: calling.tools), to: turns)
            }
        }
        let messages = turns.map { turn -> TemplateValue in
            switch turn {
            case .plain(let role, let content, let name, let reasoning):
                var pairs: [(String, TemplateValue)] = [("role", .string(role)), ("content", .string(content))]
                if let name { pairs.append(("name", .string(name))) }
                return Self.adding(reasoning, to: .object(TemplateObject(pairs)))
            case .toolCalls(let content, let calls, let reasoning):
                return Self.adding(reasoning, to: format.templateRendersTools
                    ? format.assistantMessage(content: content, calls: calls)
                    : format.plainAssistantMessage(content: content, calls: calls))
            case .toolResult(let content, let callID, let name):
                return format.templateRendersTools
                    ? format.toolResultMessage(content: content, callID: callID, name: name)
                    : format.plainToolResultMessage(content: content, name: name)
            }
        }
        let rendered = try chat.render(messages, addGenerationPrompt: true, extra: extra)
        let tokens = chat.tokens(forRendered: rendered)
        var syntax = ReasoningSyntax.of(templateSource: chat.template.source, renderedPrompt: rendered)
        if requiresReasoning && syntax == nil {
            // Ollama's answer for a model that cannot think.
            throw APIError.invalidField("think", "the model does not support thinking (its chat template writes no reasoning)")
        }
        guard let calling else {
            let constraint = responseGrammar.map { GenerationConstraint(grammar: $0) }
            // A grammar that holds from the first token writes the answer, not reasoning.
            if constraint != nil, case .thinkTags = syntax { syntax = .thinkTags(opened: false) }
            return PreparedPrompt(tokens: tokens, constraint: constraint, toolParser: nil, reasoningSyntax: syntax)
        }
        let toolConstraint: ToolConstraint?
        do {
            if calling.choice == .auto, let responseFormat {
                // Calls or the structured answer, from the first token: neither request is dropped.
                var schema: JSONValue?
                if case .schema(let value) = responseFormat { schema = value }
                toolConstraint = try format.constraint(tools: calling.tools, parallel: calling.parallel, orAnswer: schema)
            } else {
                // A named function is one call, as OpenAI answers it; `required` may call several.
                var parallel = calling.parallel
                if case .function = calling.choice { parallel = false }
                toolConstraint = try format.constraint(tools: calling.tools, choice: calling.choice, parallel: parallel)
            }
        } catch {
            throw APIError.invalidField("tools", "\(error)")
        }
        let constraint = toolConstraint.map { GenerationConstraint(grammar: $0.grammar, triggers: $0.triggers) }
        if let constraint, constraint.triggers.isEmpty, case .thinkTags = syntax { syntax = .thinkTags(opened: false) }
        return PreparedPrompt(tokens: tokens, constraint: constraint, toolParser: format.makeParser(tools: calling.tools),
                              reasoningSyntax: syntax)
    }

    /// The prompt within `budget` tokens: the whole conversation when it fits, else the system
    /// messages and the shortest tail of the rest that starts at a user turn (so no template
    /// sees an answer or a tool result without its question) and fits. The last user turn always
    /// stays; when even it does not fit, the error says so in OpenAI's words.
    func prepare(_ loaded: LoadedModel, within budget: Int) throws -> PreparedPrompt {
        let whole = try prepare(loaded)
        guard whole.tokens.count > budget else { return whole }
        let systemCount = turns.prefix { turn in
            if case .plain("system", _, _, _) = turn { return true }
            return false
        }.count
        let cuts = turns.indices.filter { index in
            guard index > systemCount, case .plain("user", _, _, _) = turns[index] else { return false }
            return true
        }
        // Fewer turns dropped is a longer prompt: binary search for the first cut that fits.
        var low = 0
        var high = cuts.count - 1
        var best: PreparedPrompt?
        var shortest = whole.tokens.count
        while low <= high {
            let middle = (low + high) / 2
            var plan = self
            plan.turns = Array(turns[..<systemCount]) + turns[cuts[middle]...]
            let prepared = try plan.prepare(loaded)
            shortest = min(shortest, prepared.tokens.count)
            if prepared.tokens.count <= budget {
                best = prepared
                high = middle - 1
            } else {
                low = middle + 1
            }
        }
        guard let best else {
            throw APIError(.badRequest,
                           "the last message alone makes a prompt of \(shortest) tokens, more than the \(budget) the context leaves "
                           + "beside room for the answer; raise num_ctx or shorten the message",
                           parameter: "messages", code: "context_length_exceeded")
        }
        return best
    }

    /// Whether `call` repeats one the conversation has already answered: the calls of the last
    /// assistant turn, when tool results follow it. Small models often answer a tool's result by
    /// calling the same tool again with the same arguments, a loop no agent wants.
    func repeatsAnsweredCall(_ call: ToolCall) -> Bool {
        guard case .toolResult? = turns.last else { return false }
        for turn in turns.reversed() {
            if case .toolCalls(_, let calls, _) = turn {
                return calls.contains { $0.name == call.name && $0.arguments == call.arguments }
            }
        }
        return false
    }

    /// The same conversation answered in text: what a request gets when its output only repeated
    /// calls already answered.
    var answeringInText: ChatPlan {
        var plan = self
        plan.tools?.choice = .none
        // Without a word, a small model that just looped on a call tends to thank the user for
        // the result or to claim it never came; pointing it at the results makes it use them.
        plan.turns = Self.addingSystemText(
            "The results of the tool calls are in the conversation above. Answer the user's last request with them, in plain text, without calling a tool.",
            to: turns)
        return plan
    }

    /// Puts `text` at the end of the system message, or adds a system message holding it.
    /// An earlier answer's reasoning, under both names templates read: Qwen3's
    /// `reasoning_content` and gpt-oss's `thinking` (each writes it back only where its model
    /// expects it, as in the turns of a tool loop).
    static func adding(_ reasoning: String?, to message: TemplateValue) -> TemplateValue {
        guard let reasoning, !reasoning.isEmpty, case .object(var fields) = message else { return message }
        fields["reasoning_content"] = .string(reasoning)
        fields["thinking"] = .string(reasoning)
        return .object(fields)
    }

    static func addingSystemText(_ text: String, to turns: [ChatTurn]) -> [ChatTurn] {
        var turns = turns
        if case .plain("system", let content, let name, _)? = turns.first {
            turns[0] = .plain(role: "system", content: content.isEmpty ? text : content + "\n\n" + text, name: name)
        } else {
            turns.insert(.plain(role: "system", content: text, name: nil), at: 0)
        }
        return turns
    }
}

/// A request turned into tokens, with what the output must match and how to read calls out of it.
struct PreparedPrompt: Sendable {
    var tokens: [Int32]
    var constraint: GenerationConstraint?
    var toolParser: ToolCallParser?
    /// How the model writes its reasoning (harmony, `<think>` blocks), split from the answer
    /// before anything reads it; nil: all output is the answer.
    var reasoningSyntax: ReasoningSyntax? = nil
}

/// Reading `tools`, `tool_choice` and tool calls out of requests (OpenAI's and Ollama's shapes).
enum ToolFields {
    /// Function names as OpenAI allows them.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" || $0 == "-" || $0 == "." }
    }

    /// `tools`: `[{"type": "function", "function": {"name", "description", "parameters", "strict"}}]`.
    /// Each tool's parameters must compile to a grammar (checked here, before any model loads).
    static func tools(_ value: JSONValue?) throws(APIError) -> [ToolDefinition] {
        guard let value else { return [] }
        guard case .array(let list) = value else { throw .invalidField("tools", "expected a list of tools, got \(value.typeName)") }
        guard list.count <= 128 else { throw .invalidField("tools", "at most 128 tools, got \(list.count)") }
        var tools: [ToolDefinition] = []
        for (index, item) in list.enumerated() {
            let path = "tools[\(index)]"
            let fields = try RequestFields(item, path: path + ".")
            try fields.rejectUnknown(known: ["type", "function"])
            let type = try fields.string("type") ?? "function"
            guard type == "function" else { throw .unsupported(path + ".type", "only function tools, got '\(type)'") }
            guard let function = fields.value("function") else { throw .invalidField(path + ".function", "is required") }
            let functionFields = try RequestFields(function, path: path + ".function.")
            try functionFields.rejectUnknown(known: ["name", "description", "parameters", "strict"])
            let name = try functionFields.requiredString("name")
            guard isValidName(name) else {
                throw .invalidField(path + ".function.name", "must be 1 to 64 letters, digits, '_', '-' or '.', got '\(name)'")
            }
            guard !tools.contains(where: { $0.name == name }) else { throw .invalidField(path + ".function.name", "'\(name)' is offered twice") }
            _ = try functionFields.bool("strict")
            var parameters = functionFields.value("parameters") ?? .object(["type": "object", "properties": .object([:])])
            if case .object(let object) = parameters, object.pairs.isEmpty {
                parameters = .object(["type": "object", "properties": .object([:])])
            }
            do {
                _ = try GBNFBuilder().addSchema(parameters, name: "arguments")
            } catch {
                throw .invalidField(path + ".function.parameters", "\(error)")
            }
            tools.append(ToolDefinition(name: name, description: try functionFields.string("description"), parameters: parameters))
        }
        return tools
    }

    /// `tool_choice`: "none", "auto", "required", or `{"type": "function", "function": {"name"}}`.
    static func choice(_ value: JSONValue?, tools: [ToolDefinition]) throws(APIError) -> ToolChoice {
        switch value {
        case nil: return .auto
        case .string("none")?: return .none
        case .string("auto")?: return .auto
        case .string("required")?, .string("any")?:
            guard !tools.isEmpty else { throw .invalidField("tool_choice", "'required' needs at least one tool in 'tools'") }
            return .required
        case .string(let other)?: throw .invalidField("tool_choice", "expected 'none', 'auto', 'required' or a function, got '\(other)'")
        case .object?:
            let fields = try RequestFields(value!, path: "tool_choice.")
            try fields.rejectUnknown(known: ["type", "function"])
            let type = try fields.string("type") ?? "function"
            guard type == "function" else { throw .unsupported("tool_choice.type", "only functions, got '\(type)'") }
            guard let function = fields.value("function") else { throw .invalidField("tool_choice.function", "is required") }
            let name = try RequestFields(function, path: "tool_choice.function.").requiredString("name")
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalidField("tool_choice.function.name", "'\(name)' is not one of the tools offered")
            }
            return .function(name)
        case let other?: throw .invalidField("tool_choice", "expected a string or an object, got \(other.typeName)")
        }
    }

    /// A call's arguments: OpenAI sends them as a JSON string, Ollama as an object.
    static func arguments(_ value: JSONValue?, field: String) throws(APIError) -> JSONValue {
        switch value {
        case nil: return .object([:])
        case .object?: return value!
        case .string(let text)?:
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return .object([:]) }
            guard let parsed = try? JSONParser.parse(Array(text.utf8)), case .object = parsed else {
                throw .invalidField(field, "expected a JSON object (as a string), got '\(text.prefix(80))'")
            }
            return parsed
        case let other?: throw .invalidField(field, "expected an object or a JSON string, got \(other.typeName)")
        }
    }

    /// `tool_calls` on an assistant message, in either API's shape.
    static func calls(_ value: JSONValue?, field: String) throws(APIError) -> [ToolCall] {
        guard let value else { return [] }
        guard case .array(let list) = value else { throw .invalidField(field, "expected a list of calls, got \(value.typeName)") }
        var calls: [ToolCall] = []
        for (index, item) in list.enumerated() {
            let path = "\(field)[\(index)]"
            let fields = try RequestFields(item, path: path + ".")
            try fields.rejectUnknown(known: ["id", "type", "function", "index"])
            guard let function = fields.value("function") else { throw .invalidField(path + ".function", "is required") }
            let functionFields = try RequestFields(function, path: path + ".function.")
            try functionFields.rejectUnknown(known: ["name", "arguments", "index"])
            let name = try functionFields.requiredString("name")
            let arguments = try arguments(functionFields.value("arguments"), field: path + ".function.arguments")
            calls.append(ToolCall(id: try fields.string("id") ?? "call_\(index)", name: name, arguments: arguments))
        }
        return calls
    }

    /// One message as a turn: a `tool` message answers a call (named by `name`, or found from
    /// `callID` in the conversation so far), an assistant message may carry calls.
    static func turn(role: String, content: String, name: String?, callID: String?, callsValue: JSONValue?, path: String,
                     after turns: [ChatTurn], reasoning: (field: String, text: String?)? = nil) throws(APIError) -> ChatTurn {
        let calls = try calls(callsValue, field: path + ".tool_calls")
        if !calls.isEmpty && role != "assistant" {
            throw APIError.invalidField(path + ".tool_calls", "only assistant messages carry tool calls")
        }
        if let reasoning, !(reasoning.text ?? "").isEmpty, role != "assistant" {
            throw APIError.invalidField(path + "." + reasoning.field, "only assistant messages carry reasoning")
        }
        switch role {
        case "tool": return .toolResult(content: content, callID: callID, name: name ?? callName(callID, in: turns))
        case "assistant" where !calls.isEmpty:
            return .toolCalls(content: content.isEmpty ? nil : content, calls: calls, reasoning: reasoning?.text)
        default: return .plain(role: role, content: content, name: name, reasoning: reasoning?.text)
        }
    }

    /// The name of the call `callID` answers, from the conversation so far.
    static func callName(_ callID: String?, in turns: [ChatTurn]) -> String? {
        guard let callID else { return nil }
        for turn in turns.reversed() {
            if case .toolCalls(_, let calls, _) = turn, let call = calls.first(where: { $0.id == callID }) { return call.name }
        }
        return nil
    }
}

/// Each template's tool-call format, found once: detection renders the template several times.
final class ToolFormatCache: @unchecked Sendable {
    static let shared = ToolFormatCache()
    private let lock = NSLock()
    private var formats: [String: ToolCallFormat] = [:]

    func format(for template: ChatTemplate) -> ToolCallFormat {
        if let known = lock.withLock({ formats[template.source] }) { return known }
        let detected = ToolCallFormat.detect(template: template)
        lock.withLock {
            // A handful of models per server; the bound only guards against a store of thousands.
            if formats.count >= 64 { formats.removeAll() }
            formats[template.source] = detected
        }
        return detected
    }
}
