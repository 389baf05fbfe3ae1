import Engine
import Foundation
import Hummingbird
import JSON
import NIOCore
import ToolCalls

/// Anthropic's Messages API: `POST /v1/messages` (text, tool use and tool results, answered
/// whole or streamed as Anthropic streams them) and `POST /v1/messages/count_tokens`, over the
/// same chat machinery as the OpenAI and Ollama routes. Requests are read in AnthropicRequest.swift.
extension HearthServer {
    func addAnthropicRoutes(to router: Router<HearthRequestContext>) {
        router.post("/v1/messages") { [self] request, context in
            try await anthropicMessages(try await json(request), closed: context.connectionClosed)
        }
        router.post("/v1/messages/count_tokens") { [self] request, _ in
            try await anthropicCountTokens(try await json(request))
        }
    }

    func anthropicMessages(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: AnthropicRequest.conversationFields.union(AnthropicRequest.generationFields),
                                 unsupported: AnthropicRequest.unsupportedFields)
        let model = try fields.requiredString("model")
        let sampling = try AnthropicRequest.sampling(fields, defaults: await customization(of: model))
        let conversation = try await offload { () throws(APIError) -> AnthropicConversation in
            try AnthropicRequest.conversation(fields)
        }
        var fittedRequest = GenerationRequest(model: model, options: sampling.options, maxTokens: sampling.maxTokens,
                                              connectionClosed: closed, prepare: conversation.prepare)
        fittedRequest.contextLength = sampling.contextLength
        fittedRequest.conversation = conversation.prefill == nil ? conversation.plan.remoteConversation : nil
        let request = fittedRequest
        var fittedTextRequest = fittedRequest
        fittedTextRequest.prepare = conversation.answeringInText.prepare
        let textRequest = fittedTextRequest
        let active = try await startGeneration(request)
        let answeredModel = active.answeredAs
        let id = Self.anthropicMessageID()
        if !sampling.stream {
            var result = try await active.run { _ in }
            var text = result.text
            var calls: [ToolCall] = []
            if var parser = active.toolParser {
                _ = parser.feed(result.text)
                _ = parser.finish()
                text = parser.content
                calls = parser.calls.filter { !conversation.plan.repeatsAnsweredCall($0) }
                if calls.isEmpty && !parser.calls.isEmpty && text.allSatisfy(\.isWhitespace) {
                    // Only repeats of answered calls: the answer is written in text instead.
                    result = try await startGeneration(textRequest).run { _ in }
                    text = result.text
                }
            }
            var content: [JSONValue] = text.isEmpty ? [] : [["type": "text", "text": .string(text)]]
            if !result.reasoning.isEmpty && !conversation.omitsThinking {
                // Anthropic signs its own thinking; a local model's carries an empty signature.
                content.insert(["type": "thinking", "thinking": .string(result.reasoning), "signature": ""], at: 0)
            }
            content += calls.map { call -> JSONValue in
                ["type": "tool_use", "id": .string(Self.anthropicToolUseID(call.id)), "name": .string(call.name), "input": call.arguments]
            }
            let stop = AnthropicStop(result, calledTools: !calls.isEmpty, maxTokens: sampling.maxTokens)
            return Reply.json(Self.anthropicMessage(id: id, model: answeredModel, content: content, stop: stop, usage: Self.anthropicUsage(result)))
        }
        await active.waitUntilStarted()
        return Reply.stream(contentType: "text/event-stream") { send in
            // A failed write means the client left: nothing more can reach it.
            var clientGone = false
            func emit(_ events: [String]) async throws {
                for event in events {
                    do {
                        try await send(event)
                    } catch {
                        clientGone = true
                        throw error
                    }
                }
            }
            var blocks = AnthropicBlockStream()
            var sentText = false
            var repeated: Set<Int> = []
            let parser = LockedParser(active.toolParser)
            func deliver(_ events: [ToolCallEvent]) async throws {
                for event in events {
                    switch event {
                    case .content(let text):
                        try await emit(blocks.text(text))
                        sentText = sentText || !text.allSatisfy(\.isWhitespace)
                    case .callStarted(let index, _, _) where conversation.plan.repeatsAnsweredCall(parser.calls[index]):
                        repeated.insert(index)
                    case .arguments(let index, _) where repeated.contains(index), .callFinished(let index) where repeated.contains(index):
                        break
                    case .callStarted(_, let callID, let name):
                        try await emit(blocks.startToolUse(id: Self.anthropicToolUseID(callID), name: name))
                    case .arguments(_, let fragment):
                        try await emit(blocks.toolInput(fragment))
                    case .callFinished:
                        try await emit(blocks.close())
                    }
                }
            }
            do {
                // Input tokens as the prompt stands; the final split between computed and
                // cached tokens comes in message_delta, whose counts replace these.
                let usage: JSONValue = ["input_tokens": .int(active.promptTokens), "cache_creation_input_tokens": 0,
                                        "cache_read_input_tokens": 0, "output_tokens": 0]
                let start = Self.anthropicMessage(id: id, model: answeredModel, content: [], stop: nil, usage: usage)
                try await emit([Self.serverSentEvent("message_start", ["type": "message_start", "message": start]),
                                Self.serverSentEvent("ping", ["type": "ping"])])
                var result = try await active.run(onReasoning: { thinking in
                    if !conversation.omitsThinking { try await emit(blocks.thinking(thinking)) }
                }) { piece in
                    if let events = parser.feed(piece.text) {
                        try await deliver(events)
                    } else {
                        try await emit(blocks.text(piece.text))
                    }
                }
                try await deliver(parser.finish() ?? [])
                var calledTools = parser.calls.count > repeated.count
                if !repeated.isEmpty && !calledTools && !sentText {
                    // Only repeats of answered calls: the answer is written in text instead.
                    result = try await self.startGeneration(textRequest).run(onReasoning: { thinking in
                        if !conversation.omitsThinking { try await emit(blocks.thinking(thinking)) }
                    }) { piece in
                        try await emit(blocks.text(piece.text))
                    }
                    calledTools = false
                }
                try await emit(blocks.close())
                let stop = AnthropicStop(result, calledTools: calledTools, maxTokens: sampling.maxTokens)
                try await emit([
                    Self.serverSentEvent("message_delta", [
                        "type": "message_delta",
                        "delta": ["stop_reason": .string(stop.reason), "stop_sequence": stop.sequence.map(JSONValue.string) ?? .null],
                        "usage": Self.anthropicUsage(result),
                    ]),
                    Self.serverSentEvent("message_stop", ["type": "message_stop"]),
                ])
            } catch where !clientGone {
                // The status line went out with the first event: a failure now is an error event.
                try await emit([Self.anthropicErrorEvent(error)])
            }
        }
    }

    /// `{"input_tokens": N}`: the prompt `/v1/messages` would compute for the same fields, tools
    /// and prefill included.
    func anthropicCountTokens(_ body: JSONValue) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: AnthropicRequest.conversationFields, unsupported: AnthropicRequest.unsupportedFields)
        let model = try fields.requiredString("model")
        let conversation = try await offload { () throws(APIError) -> AnthropicConversation in
            try AnthropicRequest.conversation(fields)
        }
        let instance = try await models.acquire(model)
        defer { instance.usage.end() }
        let loaded = instance.loaded
        let count: Int
        do {
            count = try await offload { try conversation.prepare(loaded).tokens.count }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.badRequest("cannot build the prompt: \(error)", parameter: "messages")
        }
        return Reply.json(["input_tokens": .int(count)])
    }

    // MARK: response shapes

    static func anthropicMessage(id: String, model: String, content: [JSONValue], stop: AnthropicStop?, usage: JSONValue) -> JSONValue {
        [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "content": .array(content),
            "stop_reason": stop.map { JSONValue.string($0.reason) } ?? .null,
            "stop_sequence": stop?.sequence.map(JSONValue.string) ?? .null,
            "usage": usage,
        ]
    }

    /// Anthropic counts cached prompt tokens apart: the prompt is the sum of the three input counts.
    static func anthropicUsage(_ result: GenerationResult) -> JSONValue {
        [
            "input_tokens": .int(result.promptTokens - result.reusedPromptTokens),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": .int(result.reusedPromptTokens),
            "output_tokens": .int(result.completionTokenCount),
        ]
    }

    static func serverSentEvent(_ name: String, _ data: JSONValue) -> String {
        "event: \(name)\ndata: \(data.serialized)\n\n"
    }

    /// A failure after the stream began, as Anthropic reports one: an `error` event.
    static func anthropicErrorEvent(_ error: any Error) -> String {
        serverSentEvent("error", ErrorMiddleware<HearthRequestContext>.apiError(error).anthropicBody)
    }

    static func anthropicMessageID() -> String {
        "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    }

    /// Anthropic's `toolu_` ids: the parser's own random part (or the id the model wrote, in
    /// the characters Anthropic allows), so a call keeps its id however it is delivered.
    static func anthropicToolUseID(_ id: String) -> String {
        let unique = String((id.hasPrefix("call_") ? id.dropFirst(5) : Substring(id))
            .filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        return "toolu_" + (unique.isEmpty ? String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)) : unique)
    }
}

/// Why an answer ended, as Anthropic says it.
struct AnthropicStop: Equatable {
    var reason: String
    /// The stop sequence that ended the answer (with reason `stop_sequence`).
    var sequence: String?

    init(reason: String, sequence: String? = nil) {
        self.reason = reason
        self.sequence = sequence
    }

    init(_ result: GenerationResult, calledTools: Bool, maxTokens: Int) {
        self.init(finishReason: result.finishReason, stopSequence: result.stopSequence, generatedTokens: result.completionTokenCount,
                  calledTools: calledTools, maxTokens: maxTokens)
    }

    init(finishReason: FinishReason, stopSequence: String?, generatedTokens: Int, calledTools: Bool, maxTokens: Int) {
        if calledTools {
            self.init(reason: "tool_use")
        } else if finishReason == .length {
            // Fewer tokens than asked for: the context filled up first.
            self.init(reason: generatedTokens < maxTokens ? "model_context_window_exceeded" : "max_tokens")
        } else if let stopSequence {
            self.init(reason: "stop_sequence", sequence: stopSequence)
        } else {
            self.init(reason: "end_turn")
        }
    }
}

/// Anthropic's content-block events for a streamed answer: reasoning goes into a thinking block
/// (`thinking_delta`s, then a `signature_delta` as it closes), text into a text block, each tool
/// call into a tool_use block whose input arrives as `input_json_delta`s; a block is opened when
/// its first piece comes and closed when another kind of block begins.
struct AnthropicBlockStream {
    private enum Kind { case thinking, text, toolUse }
    private var open: Kind?
    /// Blocks started so far; the open one (if any) is the last.
    private(set) var count = 0

    mutating func text(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var events: [String] = []
        if open != .text {
            events += close()
            events.append(start(["type": "text", "text": ""]))
            open = .text
        }
        events.append(delta(["type": "text_delta", "text": .string(text)]))
        return events
    }

    mutating func thinking(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var events: [String] = []
        if open != .thinking {
            events += close()
            events.append(start(["type": "thinking", "thinking": "", "signature": ""]))
            open = .thinking
        }
        events.append(delta(["type": "thinking_delta", "thinking": .string(text)]))
        return events
    }

    mutating func startToolUse(id: String, name: String) -> [String] {
        var events = close()
        events.append(start(["type": "tool_use", "id": .string(id), "name": .string(name), "input": .object([:])]))
        open = .toolUse
        return events
    }

    /// A fragment of the open tool_use block's input JSON.
    mutating func toolInput(_ fragment: String) -> [String] {
        guard open == .toolUse, !fragment.isEmpty else { return [] }
        return [delta(["type": "input_json_delta", "partial_json": .string(fragment)])]
    }

    /// Closes the open block, if there is one.
    mutating func close() -> [String] {
        guard let kind = open else { return [] }
        open = nil
        // Anthropic ends a thinking block with its signature; a local model's is empty.
        let signature = kind == .thinking ? [delta(["type": "signature_delta", "signature": ""])] : []
        return signature + [HearthServer.serverSentEvent("content_block_stop", ["type": "content_block_stop", "index": .int(count - 1)])]
    }

    private mutating func start(_ block: JSONValue) -> String {
        count += 1
        return HearthServer.serverSentEvent("content_block_start", ["type": "content_block_start", "index": .int(count - 1), "content_block": block])
    }

    private func delta(_ delta: JSONValue) -> String {
        HearthServer.serverSentEvent("content_block_delta", ["type": "content_block_delta", "index": .int(count - 1), "delta": delta])
    }
}

extension APIError {
    /// Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`.
    var anthropicBody: JSONValue {
        ["type": "error", "error": ["type": .string(anthropicType), "message": .string(message)]]
    }

    /// Anthropic's error types, by status.
    var anthropicType: String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 529: "overloaded_error"
        case 504: "timeout_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
    }
}
