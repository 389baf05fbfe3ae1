import Engine
import Foundation
import Hummingbird
import JSON
import NIOCore
import ToolCalls

/// OpenAI's Responses API over the chat machinery: `POST /v1/responses` (whole or streamed as
/// typed server-sent events), and the stored responses behind `previous_response_id`:
/// `GET` and `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`.
extension HearthServer {
    func addResponsesRoutes(to router: Router<HearthRequestContext>) {
        router.post("/v1/responses") { [self] request, context in
            try await createResponse(try await json(request), closed: context.connectionClosed)
        }
        router.get("/v1/responses/{id}") { [self] request, context in
            let query = try Self.queryFields(request, allowed: ["include", "include[]", "stream"])
            if query["stream"] == "true" { throw APIError.unsupported("stream", "a stored response is returned whole") }
            return Reply.json(try storedResponse(context.parameters.get("id") ?? "").object)
        }
        router.delete("/v1/responses/{id}") { [self] _, context in
            let id = context.parameters.get("id") ?? ""
            guard storedResponses.delete(id) else { throw Self.responseNotFound(id) }
            return Reply.json(.object(["id": .string(id), "object": "response", "deleted": true]))
        }
        router.get("/v1/responses/{id}/input_items") { [self] request, context in
            try inputItemList(of: storedResponse(context.parameters.get("id") ?? ""),
                              query: Self.queryFields(request, allowed: ["limit", "order", "after", "include", "include[]"]))
        }
    }

    static let responsesFields: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens", "temperature",
        "top_p", "top_logprobs", "text", "stream", "store", "previous_response_id", "metadata", "user", "safety_identifier",
        "prompt_cache_key", "truncation", "reasoning", "include", "background",
        // Hearth's own, as on chat completions: reproducible sampling.
        "seed",
    ]

    static let unsupportedResponsesFields: [String: String] = [
        "conversation": "conversations are not kept; continue with 'previous_response_id'",
        "prompt": "there are no stored prompt templates; send 'instructions' and 'input'",
        "service_tier": "there is one tier: this machine",
        "stream_options": "stream obfuscation is not applied (the stream never leaves this machine's network)",
        "max_tool_calls": "there are no built-in tools to limit",
        "context_management": "there is no server-side compaction; send 'truncation': 'auto'",
        "prompt_cache_retention": "the prefix cache keeps prompts in memory while the model stays loaded",
        "prompt_cache_options": "the prefix cache needs no options",
        "background_options": "responses are answered while the request waits",
        "moderation": "there is no moderation model", "image": "only text is supported",
        "modalities": "only text is supported", "audio": "audio output is not supported",
    ]

    func createResponse(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: Self.responsesFields, unsupported: Self.unsupportedResponsesFields)
        let model = try fields.requiredString("model")
        let instructions = try fields.string("instructions")
        let requestItems = try ResponseFields.inputItems(fields.value("input"), resolve: storedResponses.outputItem)
        let previousID = try fields.string("previous_response_id")
        let store = try fields.bool("store") ?? true
        if try fields.bool("background") == true {
            throw APIError.unsupported("background", "responses are answered while the request waits")
        }
        let truncation = try fields.string("truncation") ?? "disabled"
        guard truncation == "disabled" || truncation == "auto" else {
            throw APIError.invalidField("truncation", "expected 'disabled' or 'auto', got '\(truncation)'")
        }
        let metadata = try ResponseFields.metadata(fields.value("metadata"))
        let reasoningEffort = try ResponseFields.reasoningEffort(fields.value("reasoning"))
        let wantsLogprobs = try ResponseFields.includesLogprobs(fields.value("include"))
        let topLogprobs = try fields.int("top_logprobs", in: 0...20) ?? 0
        if topLogprobs > 0 && !wantsLogprobs {
            throw APIError.invalidField("top_logprobs", "requires 'include': ['message.output_text.logprobs']")
        }
        let maxOutputTokens = try fields.int("max_output_tokens", in: 1...Int(Int32.max))
        let sampling = try openAISampling(fields, logprobs: wantsLogprobs ? topLogprobs : nil, defaults: await customization(of: model))

        var history: [ResponseItem] = []
        if let previousID {
            guard let previous = storedResponses.response(previousID) else {
                throw APIError(.notFound, "previous response '\(previousID)' not found: it was not stored, was deleted, or was "
                               + "evicted (responses are kept in memory)", parameter: "previous_response_id")
            }
            history = previous.inputItems + previous.outputItems
        }
        let items = history + requestItems
        guard !items.isEmpty else { throw APIError.invalidField("input", "must not be empty") }
        let firstRequestItem = history.count
        let setup = try await offload { () throws(APIError) -> ResponsePlan in
            let (tools, toolEcho) = try ResponseFields.tools(fields.value("tools"))
            let (choice, offered, choiceEcho) = try ResponseFields.toolChoice(fields.value("tool_choice"), tools: tools)
            let parallel = try fields.bool("parallel_tool_calls") ?? true
            let (format, textEcho) = try ResponseFields.textFormat(fields.value("text"))
            // Compiled here, so a schema Hearth cannot enforce is refused before a model loads.
            let grammar = try format?.grammar(field: "text.format.schema")
            let turns = try ResponseFields.turns(instructions: instructions, items: items, firstRequestItem: firstRequestItem)
            let plan = ChatPlan(turns: turns, tools: offered.isEmpty ? nil : ToolRequest(tools: offered, choice: choice, parallel: parallel),
                                responseFormat: format, responseGrammar: grammar, reasoningEffort: reasoningEffort)
            return ResponsePlan(plan: plan, tools: toolEcho, toolChoice: choiceEcho, parallelToolCalls: parallel, text: textEcho)
        }
        let plan = setup.plan
        var draft = ResponseEnvelope(
            id: ResponseItem.makeID("resp"), createdAt: Int(Date().timeIntervalSince1970), model: model, instructions: instructions,
            tools: setup.tools, toolChoice: setup.toolChoice, parallelToolCalls: setup.parallelToolCalls,
            temperature: try fields.number("temperature", in: 0...2) ?? 1, topP: try fields.number("top_p", in: 0...1) ?? 1,
            maxOutputTokens: maxOutputTokens, previousResponseID: previousID, metadata: metadata, text: setup.text,
            truncation: truncation, store: store, user: try fields.string("user"),
            safetyIdentifier: try fields.string("safety_identifier"), promptCacheKey: try fields.string("prompt_cache_key"),
            topLogprobs: topLogprobs, reasoningEffort: reasoningEffort)

        // `truncation: "auto"` drops the oldest turns as Ollama's chat does (the shared fitting);
        // "disabled" refuses a prompt that does not fit, as OpenAI does.
        var fittedRequest = GenerationRequest(model: model, options: sampling.options, maxTokens: maxOutputTokens ?? sampling.maxTokens,
                                              connectionClosed: closed, prepare: plan.prepare)
        fittedRequest.contextLength = sampling.contextLength
        fittedRequest.conversation = plan.remoteConversation
        var fittedTextRequest = fittedRequest
        fittedTextRequest.prepare = plan.answeringInText.prepare
        if truncation == "auto" {
            fittedRequest.fitting = plan.prepare(_:within:)
            fittedTextRequest.fitting = plan.answeringInText.prepare(_:within:)
        }
        let (request, textRequest) = (fittedRequest, fittedTextRequest)
        let active = try await startGeneration(request)
        // The model that answers (the router's choice for `auto`), as every other route says.
        draft.model = active.answeredAs
        let envelope = draft
        let storedResponses = self.storedResponses
        @Sendable func finish(_ output: ResponseOutput, _ result: GenerationResult) -> JSONValue {
            let object = envelope.json(status: result.finishReason == .length ? "incomplete" : "completed", output: output.items, usage: result)
            if store { storedResponses.insert(StoredResponse(object: object, inputItems: items, outputItems: output.items), id: envelope.id) }
            return object
        }

        if !sampling.stream {
            let output = ResponseOutput(logprobs: wantsLogprobs)
            let result = try await generate(active, plan: plan, textRequest: textRequest, into: output) { _ in }
            return Reply.json(finish(output, result))
        }
        await active.waitUntilStarted()
        return Reply.stream(contentType: "text/event-stream") { send in
            var sequence = 0
            var clientGone = false
            func emit(_ event: JSONObject) async throws {
                var event = event
                event["sequence_number"] = .int(sequence)
                sequence += 1
                guard case .string(let type)? = event["type"] else { preconditionFailure("every event has a type") }
                do {
                    try await send("event: \(type)\ndata: \(JSONValue.object(event).serialized)\n\n")
                } catch {
                    clientGone = true
                    throw error
                }
            }
            let output = ResponseOutput(logprobs: wantsLogprobs)
            do {
                try await emit(["type": "response.created", "response": envelope.json(status: "in_progress")])
                try await emit(["type": "response.in_progress", "response": envelope.json(status: "in_progress")])
                let result = try await self.generate(active, plan: plan, textRequest: textRequest, into: output, emit: emit)
                let object = finish(output, result)
                try await emit(["type": result.finishReason == .length ? "response.incomplete" : "response.completed", "response": object])
            } catch where !clientGone {
                // Headers are sent: the failure is reported in the stream, as OpenAI reports it.
                let failure = ErrorMiddleware<HearthRequestContext>.apiError(error)
                let details: JSONValue = .object(["code": "server_error", "message": .string(failure.message)])
                try await emit(["type": "response.failed", "response": envelope.json(status: "failed", output: output.abandon(), error: details)])
            }
        }
    }

    /// Runs the generation, feeding its text through the tool-call parser into `output`, which
    /// hands each step's stream events to `emit`. When the model only repeated calls the
    /// conversation already answered, the answer is generated again in text, as chat
    /// completions does. Returns the result of the generation that made the output.
    func generate(_ active: ActiveGeneration, plan: ChatPlan, textRequest: GenerationRequest, into output: ResponseOutput,
                  emit: (JSONObject) async throws -> Void) async throws -> GenerationResult {
        var parser = active.toolParser
        var repeated: Set<Int> = []
        func deliver(_ events: [ToolCallEvent], logprobs: [TokenLogprob]) async throws {
            var logprobs = logprobs
            for event in events {
                var steps: [JSONObject] = []
                switch event {
                case .content(let text):
                    steps = output.content(text, logprobs: logprobs)
                    logprobs = []
                case .callStarted(let index, _, _) where parser.map({ plan.repeatsAnsweredCall($0.calls[index]) }) ?? false:
                    repeated.insert(index)
                case .callStarted(_, let callID, let name):
                    steps = output.startCall(callID: callID, name: name)
                case .arguments(let index, let fragment) where !repeated.contains(index):
                    steps = output.arguments(fragment)
                case .callFinished(let index) where !repeated.contains(index):
                    steps = output.finishCall(incomplete: false)
                case .arguments, .callFinished:
                    break
                }
                for step in steps { try await emit(step) }
            }
        }
        var result = try await active.run(onReasoning: { text in
            for step in output.reasoning(text) { try await emit(step) }
        }) { piece in
            if parser != nil {
                let events = parser!.feed(piece.text)
                try await deliver(events, logprobs: piece.logprobs)
            } else {
                try await deliver([.content(piece.text)], logprobs: piece.logprobs)
            }
        }
        if parser != nil {
            let events = parser!.finish()
            try await deliver(events, logprobs: [])
        }
        if !repeated.isEmpty && !output.hasAnswer {
            // Only repeats of answered calls: the answer is written in text instead.
            result = try await startGeneration(textRequest).run(onReasoning: { text in
                for step in output.reasoning(text) { try await emit(step) }
            }) { piece in
                try await deliver([.content(piece.text)], logprobs: piece.logprobs)
            }
        }
        for step in output.finish(incomplete: result.finishReason == .length) { try await emit(step) }
        return result
    }

    func storedResponse(_ id: String) throws -> StoredResponse {
        guard let stored = storedResponses.response(id) else { throw Self.responseNotFound(id) }
        return stored
    }

    static func responseNotFound(_ id: String) -> APIError {
        APIError(.notFound, "response '\(id)' not found: it was not stored, was deleted, or was evicted (responses are kept in memory)")
    }

    /// `GET /v1/responses/{id}/input_items`: newest first unless `order=asc`, `limit` (1 to 100,
    /// default 20) at a time, `after` an item id.
    func inputItemList(of stored: StoredResponse, query: [String: String]) throws -> Response {
        var limit = 20
        if let text = query["limit"] {
            guard let number = Int(text), (1...100).contains(number) else {
                throw APIError.invalidField("limit", "expected a whole number from 1 to 100, got '\(text)'")
            }
            limit = number
        }
        let order = query["order"] ?? "desc"
        guard order == "asc" || order == "desc" else { throw APIError.invalidField("order", "expected 'asc' or 'desc', got '\(order)'") }
        var items: [ResponseItem] = order == "asc" ? stored.inputItems : Array(stored.inputItems.reversed())
        if let after = query["after"] {
            guard let position = items.firstIndex(where: { $0.id == after }) else {
                throw APIError.invalidField("after", "no input item '\(after)' in this response")
            }
            items = Array(items[(position + 1)...])
        }
        let page = items.prefix(limit)
        return Reply.json(.object([
            "object": "list", "data": .array(page.map(\.json)),
            "first_id": page.first.map { .string($0.id) } ?? .null, "last_id": page.last.map { .string($0.id) } ?? .null,
            "has_more": .bool(items.count > limit),
        ]))
    }

    /// The query parameters (the last of a repeated one), refusing any a route does not read.
    static func queryFields(_ request: Request, allowed: Set<String>) throws -> [String: String] {
        var fields: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            guard allowed.contains(String(key)) else { throw APIError.invalidField(String(key), "unknown query parameter") }
            fields[String(key)] = String(value)
        }
        return fields
    }
}

/// A request's conversation, tools and format as a chat plan, with the tools, tool choice and
/// text format as the response echoes them.
struct ResponsePlan: Sendable {
    var plan: ChatPlan
    var tools: [JSONValue]
    var toolChoice: JSONValue
    var parallelToolCalls: Bool
    var text: JSONValue
}

/// What a response echoes of its request, and the response object built from it.
struct ResponseEnvelope: Sendable {
    var id: String
    var createdAt: Int
    var model: String
    var instructions: String?
    var tools: [JSONValue]
    var toolChoice: JSONValue
    var parallelToolCalls: Bool
    var temperature: Double
    var topP: Double
    var maxOutputTokens: Int?
    var previousResponseID: String?
    var metadata: JSONValue
    var text: JSONValue
    var truncation: String
    var store: Bool
    var user: String?
    var safetyIdentifier: String?
    var promptCacheKey: String?
    var topLogprobs: Int
    var reasoningEffort: String? = nil

    /// The response object with `status` ("in_progress", "completed", "incomplete" or "failed").
    func json(status: String, output: [ResponseItem] = [], usage result: GenerationResult? = nil, error: JSONValue = .null) -> JSONValue {
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        var usage: JSONValue = .null
        if let result {
            let details: JSONValue = .object([
                "cached_tokens": .int(result.reusedPromptTokens),
                // Prompt tokens found in the prefix cache; nothing is billed for writing to it.
                "cache_write_tokens": 0,
            ])
            usage = .object([
                "input_tokens": .int(result.promptTokens), "input_tokens_details": details,
                "output_tokens": .int(result.completionTokenCount), "output_tokens_details": .object(["reasoning_tokens": 0]),
                "total_tokens": .int(result.promptTokens + result.completionTokenCount),
            ])
        }
        var object: JSONObject = ["id": .string(id), "object": "response", "created_at": .int(createdAt), "status": .string(status)]
        object["completed_at"] = status == "completed" ? .int(Int(Date().timeIntervalSince1970)) : .null
        object["background"] = false
        object["error"] = error
        object["incomplete_details"] = status == "incomplete" ? .object(["reason": "max_output_tokens"]) : .null
        object["instructions"] = optional(instructions)
        object["max_output_tokens"] = maxOutputTokens.map(JSONValue.int) ?? .null
        object["max_tool_calls"] = .null
        object["model"] = .string(model)
        object["output"] = .array(output.map(\.json))
        object["parallel_tool_calls"] = .bool(parallelToolCalls)
        object["previous_response_id"] = optional(previousResponseID)
        object["prompt_cache_key"] = optional(promptCacheKey)
        object["reasoning"] = .object(["effort": optional(reasoningEffort), "summary": .null])
        object["safety_identifier"] = optional(safetyIdentifier)
        object["store"] = .bool(store)
        object["temperature"] = .double(temperature)
        object["text"] = text
        object["tool_choice"] = toolChoice
        object["tools"] = .array(tools)
        object["top_logprobs"] = .int(topLogprobs)
        object["top_p"] = .double(topP)
        object["truncation"] = .string(truncation)
        object["usage"] = usage
        object["user"] = optional(user)
        object["metadata"] = metadata
        return .object(object)
    }
}

/// A response's output items as they are generated — reasoning, assistant messages and function
/// calls, in order — and the stream events that announce each step. One per request, used by one
/// task.
final class ResponseOutput {
    let logprobs: Bool
    private(set) var items: [ResponseItem] = []
    /// The message being written: its index in `items`, its text and its tokens' log-probabilities
    /// (kept apart from `items` until it closes, so each piece appends in place).
    private var openMessage: Int?
    private var openText = ""
    private var openLogprobs: [JSONValue] = []
    private var openCall: Int?
    private var openArguments = ""
    private var openReasoning: Int?
    private var reasoningText = ""

    init(logprobs: Bool) { self.logprobs = logprobs }

    /// A piece of the model's thoughts: a `reasoning` item with `reasoning_text` content, as
    /// gpt-oss's are listed (`response.reasoning_text.delta` while streaming).
    func reasoning(_ text: String) -> [JSONObject] {
        guard !text.isEmpty else { return [] }
        var events: [JSONObject] = []
        if openReasoning == nil {
            events += closeMessage(incomplete: false) + finishCall(incomplete: false)
            items.append(ResponseItem(id: ResponseItem.makeID("rs"), kind: .reasoning(Self.reasoningObject("")), status: "in_progress"))
            openReasoning = items.count - 1
            reasoningText = ""
            events.append(["type": "response.output_item.added", "output_index": .int(items.count - 1), "item": items[items.count - 1].json])
        }
        let index = openReasoning!
        reasoningText += text
        events.append(["type": "response.reasoning_text.delta", "item_id": .string(items[index].id), "output_index": .int(index),
                       "content_index": 0, "delta": .string(text)])
        return events
    }

    /// Whether the output holds a message or a call (not only reasoning).
    var hasAnswer: Bool {
        items.contains { if case .reasoning = $0.kind { false } else { true } }
    }

    static func reasoningObject(_ text: String) -> JSONObject {
        ["type": "reasoning", "summary": [], "content": [.object(["type": "reasoning_text", "text": .string(text)])]]
    }

    private func closeReasoning(incomplete: Bool) -> [JSONObject] {
        guard let index = openReasoning else { return [] }
        openReasoning = nil
        var object = Self.reasoningObject(reasoningText)
        object["status"] = .string(incomplete ? "incomplete" : "completed")
        items[index].kind = .reasoning(object)
        items[index].status = incomplete ? "incomplete" : "completed"
        return [
            ["type": "response.reasoning_text.done", "item_id": .string(items[index].id), "output_index": .int(index), "content_index": 0,
             "text": .string(reasoningText)],
            ["type": "response.output_item.done", "output_index": .int(index), "item": items[index].json],
        ]
    }

    func content(_ text: String, logprobs entries: [TokenLogprob]) -> [JSONObject] {
        guard !text.isEmpty else { return [] }
        var events = closeReasoning(incomplete: false)
        events += openCall == nil ? [] : finishCall(incomplete: false)
        if openMessage == nil { events += startMessage() }
        let index = openMessage!
        let entries: [JSONValue] = logprobs ? entries.map(Self.logprob) : []
        openText += text
        openLogprobs += entries
        events.append(["type": "response.output_text.delta", "item_id": .string(items[index].id), "output_index": .int(index),
                       "content_index": 0, "delta": .string(text), "logprobs": .array(entries)])
        return events
    }

    func startCall(callID: String, name: String) -> [JSONObject] {
        var events = closeReasoning(incomplete: false) + closeMessage(incomplete: false)
        if openCall != nil { events += finishCall(incomplete: false) }
        items.append(ResponseItem(id: ResponseItem.makeID("fc"), kind: .functionCall(callID: callID, name: name, arguments: ""),
                                  status: "in_progress"))
        openCall = items.count - 1
        openArguments = ""
        events.append(["type": "response.output_item.added", "output_index": .int(items.count - 1), "item": items[items.count - 1].json])
        return events
    }

    func arguments(_ fragment: String) -> [JSONObject] {
        guard let index = openCall, !fragment.isEmpty else { return [] }
        openArguments += fragment
        return [["type": "response.function_call_arguments.delta", "item_id": .string(items[index].id), "output_index": .int(index),
                 "delta": .string(fragment)]]
    }

    func finishCall(incomplete: Bool) -> [JSONObject] {
        guard let index = openCall, case .functionCall(let callID, let name, _) = items[index].kind else { return [] }
        openCall = nil
        items[index].kind = .functionCall(callID: callID, name: name, arguments: openArguments)
        items[index].status = incomplete ? "incomplete" : "completed"
        return [
            ["type": "response.function_call_arguments.done", "item_id": .string(items[index].id), "output_index": .int(index),
             "name": .string(name), "arguments": .string(openArguments)],
            ["type": "response.output_item.done", "output_index": .int(index), "item": items[index].json],
        ]
    }

    /// Closes what is open; an output with no item at all gets an empty message, so that there
    /// is always an answer to read.
    func finish(incomplete: Bool) -> [JSONObject] {
        var events = closeReasoning(incomplete: incomplete) + closeMessage(incomplete: incomplete) + finishCall(incomplete: incomplete)
        // Thoughts alone are no answer: an output without a message or call gets an empty message.
        if !hasAnswer {
            events += startMessage() + closeMessage(incomplete: incomplete)
        }
        return events
    }

    /// The items so far, with what was still open marked incomplete: a failed response's output.
    func abandon() -> [ResponseItem] {
        _ = closeReasoning(incomplete: true) + closeMessage(incomplete: true) + finishCall(incomplete: true)
        return items
    }

    private func startMessage() -> [JSONObject] {
        items.append(ResponseItem(id: ResponseItem.makeID("msg"), kind: .message(role: "assistant", parts: []), status: "in_progress"))
        let index = items.count - 1
        openMessage = index
        openText = ""
        openLogprobs = []
        return [
            ["type": "response.output_item.added", "output_index": .int(index), "item": items[index].json],
            ["type": "response.content_part.added", "item_id": .string(items[index].id), "output_index": .int(index), "content_index": 0,
             "part": ContentPart(type: "output_text", text: "").json],
        ]
    }

    private func closeMessage(incomplete: Bool) -> [JSONObject] {
        guard let index = openMessage else { return [] }
        openMessage = nil
        let part = ContentPart(type: "output_text", text: openText, logprobs: openLogprobs)
        items[index].kind = .message(role: "assistant", parts: [part])
        items[index].status = incomplete ? "incomplete" : "completed"
        let id = JSONValue.string(items[index].id)
        return [
            ["type": "response.output_text.done", "item_id": id, "output_index": .int(index), "content_index": 0,
             "text": .string(openText), "logprobs": .array(openLogprobs)],
            ["type": "response.content_part.done", "item_id": id, "output_index": .int(index), "content_index": 0, "part": part.json],
            ["type": "response.output_item.done", "output_index": .int(index), "item": items[index].json],
        ]
    }

    static func logprob(_ entry: TokenLogprob) -> JSONValue {
        .object([
            "token": .string(entry.text), "bytes": .array(Array(entry.text.utf8).map { .int(Int($0)) }),
            "logprob": .double(Double(entry.logprob)),
            "top_logprobs": .array(entry.top.map { alternative in
                .object(["token": .string(alternative.text), "bytes": .array(Array(alternative.text.utf8).map { .int(Int($0)) }),
                         "logprob": .double(Double(alternative.logprob))])
            }),
        ])
    }
}
