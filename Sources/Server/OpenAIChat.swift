import Engine
import Foundation
import Hummingbird
import JSON
import NIOCore
import ToolCalls

/// `POST /v1/chat/completions`: messages (with tool calls and tool results), structured output
/// (`response_format`) and tools, answered whole or streamed as OpenAI streams them.
extension HearthServer {
    func chatCompletions(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(
            known: ["model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
                    "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias", "stream", "stream_options", "n",
                    "response_format", "tools", "tool_choice", "parallel_tool_calls", "modalities", "reasoning_effort",
                    "chat_template_kwargs"],
            unsupported: Self.unsupportedOpenAIFields, ignored: Self.ignoredOpenAIFields)
        try Self.checkModalities(fields)
        let model = try fields.requiredString("model")
        let reasoningEffort = try Self.reasoningEffort(fields)
        let templateArguments = try Self.templateArguments(fields)
        let turns = try Self.chatTurns(fields.value("messages"))
        let wantsLogprobs = try fields.bool("logprobs") ?? false
        let topLogprobs = try fields.int("top_logprobs", in: 0...20)
        if topLogprobs != nil && !wantsLogprobs { throw APIError.invalidField("top_logprobs", "requires 'logprobs': true") }
        let sampling = try openAISampling(fields, logprobs: wantsLogprobs ? (topLogprobs ?? 0) : nil, defaults: await customization(of: model))
        let plan = try await offload { () throws(APIError) -> ChatPlan in
            let tools = try ToolFields.tools(fields.value("tools"))
            let choice = try ToolFields.choice(fields.value("tool_choice"), tools: tools)
            let parallel = try fields.bool("parallel_tool_calls") ?? true
            let format = try Self.responseFormat(fields.value("response_format"))
            // Compiled here, so a schema Hearth cannot enforce is refused before a model loads.
            let grammar = try format?.grammar(field: "response_format.json_schema.schema")
            return ChatPlan(turns: turns, tools: tools.isEmpty ? nil : ToolRequest(tools: tools, choice: choice, parallel: parallel),
                            responseFormat: format, responseGrammar: grammar, reasoningEffort: reasoningEffort,
                            templateArguments: templateArguments)
        }
        let requests = (0..<sampling.choices).map { index in
            var request = GenerationRequest(model: model, options: sampling.options(forChoice: index), maxTokens: sampling.maxTokens,
                                            connectionClosed: closed, prepare: plan.prepare)
            request.contextLength = sampling.contextLength
            request.conversation = plan.remoteConversation
            return request
        }
        let actives = try await startGenerations(requests)
        let answeredModel = actives[0].answeredAs
        let id = String("chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24))
        let created = JSONValue.int(Int(Date().timeIntervalSince1970))
        let answerInText = { @Sendable (index: Int) in
            var request = requests[index]
            request.model = actives[index].answeredAs
            request.prepare = plan.answeringInText.prepare
            return request
        }
        if !sampling.stream {
            let answers = try await withThrowingTaskGroup(of: (Int, JSONObject, GenerationResult).self) { group in
                for (index, active) in actives.enumerated() {
                    group.addTask {
                        let (choice, result) = try await self.chatChoice(index: index, active: active, plan: plan,
                                                                         textRequest: answerInText(index), logprobs: wantsLogprobs)
                        return (index, choice, result)
                    }
                }
                var answers = [(JSONObject, GenerationResult)?](repeating: nil, count: actives.count)
                for try await (index, choice, result) in group { answers[index] = (choice, result) }
                return answers.map { $0! }
            }
            return Reply.json(.object([
                "id": .string(id), "object": "chat.completion", "created": created, "model": .string(answeredModel),
                "choices": .array(answers.map { .object($0.0) }),
                "usage": Self.usage(answers.map(\.1), choicesPerPrompt: sampling.choices),
            ]))
        }
        for active in actives { await active.waitUntilStarted() }
        return Reply.stream(contentType: "text/event-stream") { send in
            let results = try await Self.merged(count: actives.count, send: send) { index, emit in
                try await self.streamChatChoice(index: index, active: actives[index], plan: plan, textRequest: answerInText(index),
                                                logprobs: wantsLogprobs, emit: emit) { delta, finish, logprobs in
                    let object: JSONValue = .object([
                        "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(answeredModel),
                        "choices": [.object(["index": .int(index), "delta": delta, "logprobs": logprobs, "finish_reason": finish])],
                    ])
                    return "data: \(object.serialized)\n\n"
                }
            }
            if sampling.includeUsage {
                let usage: JSONValue = .object([
                    "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(answeredModel),
                    "choices": [], "usage": Self.usage(results, choicesPerPrompt: sampling.choices),
                ])
                try await send("data: \(usage.serialized)\n\n")
            }
            try await send("data: [DONE]\n\n")
        }
    }

    /// One whole choice: its message (text, or tool calls read from the output) and result. An
    /// output that only repeats calls already answered is asked again for a text answer.
    func chatChoice(index: Int, active: ActiveGeneration, plan: ChatPlan, textRequest: GenerationRequest,
                    logprobs wantsLogprobs: Bool) async throws -> (JSONObject, GenerationResult) {
        var result = try await active.run { _ in }
        var content = result.text
        var calls: [ToolCall] = []
        if var parser = active.toolParser {
            _ = parser.feed(result.text)
            _ = parser.finish()
            content = !parser.calls.isEmpty && HeldContent.isNegligible(parser.content) ? "" : parser.content
            calls = parser.calls.filter { !plan.repeatsAnsweredCall($0) }
            if calls.isEmpty && !parser.calls.isEmpty && content.isEmpty {
                result = try await startGeneration(textRequest).run { _ in }
                content = result.text
            }
        }
        var message: JSONObject = ["role": "assistant", "content": calls.isEmpty || !content.isEmpty ? .string(content) : .null]
        // llama-server's and vLLM's field for a reasoning model's thoughts (gpt-oss's analysis
        // channel, a `<think>` block).
        if !result.reasoning.isEmpty { message["reasoning_content"] = .string(result.reasoning) }
        if !calls.isEmpty { message["tool_calls"] = .array(calls.map { Self.openAIToolCall($0) }) }
        message["refusal"] = .null
        let choice: JSONObject = [
            "index": .int(index), "message": .object(message),
            "logprobs": wantsLogprobs ? Self.chatLogprobs(result.logprobs) : .null,
            "finish_reason": .string(Self.finishReason(result, calledTools: !calls.isEmpty)),
        ]
        return (choice, result)
    }

    /// One streamed choice: its deltas (content, tool-call starts and arguments) as OpenAI sends
    /// them, then its finish reason; `chunk` wraps a delta in the stream's envelope.
    func streamChatChoice(index: Int, active: ActiveGeneration, plan: ChatPlan, textRequest: GenerationRequest, logprobs wantsLogprobs: Bool,
                          emit: (String) async throws -> Void,
                          chunk: @escaping @Sendable (_ delta: JSONValue, _ finish: JSONValue, _ logprobs: JSONValue) -> String)
        async throws -> GenerationResult {
        let parser = LockedParser(active.toolParser)
        var sentContent = false
        var repeated: Set<Int> = []
        var held = HeldContent()
        func deliver(_ events: [ToolCallEvent], logprobs: JSONValue) async throws {
            var logprobs = logprobs
            for event in events {
                switch event {
                case .content(let text):
                    guard let text = held.add(text) else { continue }
                    try await emit(chunk(.object(["content": .string(text)]), .null, logprobs))
                    logprobs = .null
                    sentContent = sentContent || !text.allSatisfy(\.isWhitespace)
                case .callStarted(let index, _, _) where plan.repeatsAnsweredCall(parser.calls[index]) || repeated.contains(index):
                    repeated.insert(index)
                case .arguments(let index, _) where repeated.contains(index):
                    break
                case .callStarted(let index, let callID, let name):
                    try await emit(chunk(.object(["tool_calls": [.object([
                        "index": .int(index), "id": .string(callID), "type": "function",
                        "function": .object(["name": .string(name), "arguments": ""]),
                    ])]]), .null, .null))
                case .arguments(let index, let fragment):
                    try await emit(chunk(.object(["tool_calls": [.object([
                        "index": .int(index), "function": .object(["arguments": .string(fragment)]),
                    ])]]), .null, .null))
                case .callFinished:
                    break
                }
            }
        }
        try await emit(chunk(.object(["role": "assistant", "content": ""]), .null, .null))
        // llama-server's delta for a reasoning model's thoughts, streamed as they come.
        let firstResult = try await active.run(onReasoning: { text in
            try await emit(chunk(.object(["reasoning_content": .string(text)]), .null, .null))
        }) { piece in
            let logprobs = wantsLogprobs ? Self.chatLogprobs(piece.logprobs) : .null
            if let events = parser.feed(piece.text) {
                try await deliver(events, logprobs: logprobs)
            } else {
                try await emit(chunk(.object(["content": .string(piece.text)]), .null, logprobs))
            }
        }
        try await deliver(parser.finish() ?? [], logprobs: .null)
        let rest = held.flush()
        if parser.calls.isEmpty && !rest.isEmpty {
            try await emit(chunk(.object(["content": .string(rest)]), .null, .null))
        }
        var result = firstResult
        var calledTools = parser.calls.count > repeated.count
        if !repeated.isEmpty && !calledTools && !sentContent {
            // Only repeats of answered calls: the answer is written in text instead.
            result = try await startGeneration(textRequest).run(onReasoning: { text in
                try await emit(chunk(.object(["reasoning_content": .string(text)]), .null, .null))
            }) { piece in
                try await emit(chunk(.object(["content": .string(piece.text)]), .null, .null))
            }
            calledTools = false
        }
        try await emit(chunk(.object([:]), .string(Self.finishReason(result, calledTools: calledTools)), .null))
        return result
    }

    static func openAIToolCall(_ call: ToolCall) -> JSONValue {
        .object(["id": .string(call.id), "type": "function",
                 "function": .object(["name": .string(call.name), "arguments": .string(call.arguments.serialized)])])
    }

    static func finishReason(_ result: GenerationResult, calledTools: Bool) -> String {
        if result.finishReason == .length { return "length" }
        return calledTools ? "tool_calls" : "stop"
    }

    /// `response_format`: absent, `{"type": "text"}`, `{"type": "json_object"}`, or
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict", "description"}}`.
    static func responseFormat(_ value: JSONValue?) throws(APIError) -> ResponseFormat? {
        guard let value else { return nil }
        let fields = try RequestFields(value, path: "response_format.")
        try fields.rejectUnknown(known: ["type", "json_schema"])
        switch try fields.requiredString("type") {
        case "text": return nil
        case "json_object": return .jsonObject
        case "json_schema":
            guard let schemaValue = fields.value("json_schema") else { throw .invalidField("response_format.json_schema", "is required") }
            let schemaFields = try RequestFields(schemaValue, path: "response_format.json_schema.")
            try schemaFields.rejectUnknown(known: ["name", "schema", "strict", "description"])
            _ = try schemaFields.string("name")
            _ = try schemaFields.bool("strict")
            _ = try schemaFields.string("description")
            // A json_schema without a schema asks for JSON of any shape: an object, as json_object.
            guard let schema = schemaFields.value("schema") else { return .jsonObject }
            return .schema(schema)
        case let other:
            throw .invalidField("response_format.type", "expected 'text', 'json_object' or 'json_schema', got '\(other)'")
        }
    }

    /// OpenAI messages → chat turns; content may be a string or a list of text parts; assistant
    /// messages may carry `tool_calls`, and `tool` messages answer them by `tool_call_id`.
    static func chatTurns(_ value: JSONValue?) throws(APIError) -> [ChatTurn] {
        guard case .array(let messages)? = value else {
            throw APIError.invalidField("messages", value == nil ? "is required" : "expected an array of messages")
        }
        guard !messages.isEmpty else { throw APIError.invalidField("messages", "must not be empty") }
        guard messages.count <= 10_000 else { throw APIError.invalidField("messages", "at most 10000 messages") }
        var turns: [ChatTurn] = []
        for (index, message) in messages.enumerated() {
            let path = "messages[\(index)]"
            let fields = try RequestFields(message, path: path + ".")
            try fields.rejectUnknown(known: ["role", "content", "name", "tool_calls", "tool_call_id", "refusal", "reasoning_content"], unsupported: [
                "function_call": "the deprecated 'function_call' is not supported; send 'tool_calls'",
                "audio": "audio is not supported",
            ])
            let role = try fields.requiredString("role")
            guard ["system", "developer", "user", "assistant", "tool"].contains(role) else {
                throw APIError.invalidField(path + ".role", "expected system, developer, user, assistant or tool, got '\(role)'")
            }
            let content = try textContent(fields.value("content"), field: path + ".content")
            let name = try fields.string("name")
            turns.append(try ToolFields.turn(role: role == "developer" ? "system" : role, content: content, name: name,
                                             callID: try fields.string("tool_call_id"), callsValue: fields.value("tool_calls"),
                                             path: path, after: turns,
                                             reasoning: ("reasoning_content", try fields.string("reasoning_content"))))
        }
        return turns
    }
}

/// The stream's tool-call parser, used from the piece callback and after it.
final class LockedParser: @unchecked Sendable {
    private let lock = NSLock()
    private var parser: ToolCallParser?

    init(_ parser: ToolCallParser?) { self.parser = parser }

    /// nil when the request offered no tools (every piece is content).
    func feed(_ text: String) -> [ToolCallEvent]? {
        lock.withLock { parser == nil ? nil : parser!.feed(text) }
    }

    func finish() -> [ToolCallEvent]? {
        lock.withLock { parser == nil ? nil : parser!.finish() }
    }

    var calledTools: Bool { lock.withLock { !(parser?.calls.isEmpty ?? true) } }

    var calls: [ToolCall] { lock.withLock { parser?.calls ?? [] } }
}
