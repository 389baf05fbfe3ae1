import JSON
import Engine
import Foundation
import GGUF
import Hummingbird
import NIOCore
import Sampling
import Store
import Templates
import ToolCalls

/// Ollama's API: tags, show, chat, generate, ps, version, pull, delete, embed.
extension HearthServer {
    func addOllamaRoutes(to router: Router<HearthRequestContext>) {
        // Clients compare this with the Ollama version a feature needed (tools, structured
        // output, the `think` field…); Hearth answers as the Ollama API it implements.
        router.get("/api/version") { _, _ in
            Reply.json(.object(["version": .string(HearthServer.ollamaAPIVersion), "hearth": .string(HearthServer.version)]))
        }
        router.head("/api/version") { _, _ in Response(status: .ok) }
        router.get("/api/tags") { [self] _, _ in
            Reply.json(.object(["models": .array(try listInstalled().map { model in
                .object([
                    "name": .string(Self.listedName(model.name)), "model": .string(Self.listedName(model.name)),
                    "modified_at": .string(Self.timestamp(model.modified)), "size": .int(Int(model.size)),
                    "digest": .string(model.sha256), "details": Self.details(path: model.path),
                ])
            })]))
        }
        router.get("/api/ps") { [self] _, _ in
            var entries: [JSONValue] = []
            for instance in await models.loaded {
                let installed = try? await models.installedModel(instance.name)
                var entry: JSONObject = [
                    "name": .string(Self.listedName(instance.name)), "model": .string(Self.listedName(instance.name)),
                    "size": .int(Int(instance.fileSize) + instance.cacheBytes), "digest": .string(installed?.sha256 ?? ""),
                    "details": Self.details(path: instance.loaded.file.path),
                    "expires_at": .string(instance.usage.expiry.map(Self.timestamp) ?? "9999-12-31T23:59:59Z"),
                    "size_vram": 0, "context_length": .int(instance.scheduler.contextLength),
                ]
                // Hearth's own: the model drafting for it (speculative decoding), when one does.
                if let draft = instance.draft { entry["draft"] = .string(draft) }
                entries.append(.object(entry))
            }
            // Embedding models are listed as Ollama lists them: no cache beyond the weights.
            for instance in await models.loadedEmbeddingModels {
                let installed = try? await models.installedModel(instance.name)
                entries.append(.object([
                    "name": .string(Self.listedName(instance.name)), "model": .string(Self.listedName(instance.name)),
                    "size": .int(Int(instance.fileSize)), "digest": .string(installed?.sha256 ?? ""),
                    "details": Self.details(path: instance.model.file.path),
                    "expires_at": .string(instance.usage.expiry.map(Self.timestamp) ?? "9999-12-31T23:59:59Z"),
                    "size_vram": 0, "context_length": .int(instance.model.contextLength),
                ]))
            }
            return Reply.json(.object(["models": .array(entries)]))
        }
        router.post("/api/copy") { [self] request, _ in try await ollamaCopy(try await json(request)) }
        router.post("/api/create") { [self] request, _ in try await ollamaCreate(try await json(request)) }
        router.post("/api/embeddings") { [self] request, _ in try await ollamaLegacyEmbeddings(try await json(request)) }
        router.post("/api/show") { [self] request, _ in try await show(try await json(request)) }
        router.post("/api/chat") { [self] request, context in try await ollamaChat(try await json(request), closed: context.connectionClosed) }
        router.post("/api/generate") { [self] request, context in
            try await ollamaGenerate(try await json(request), closed: context.connectionClosed)
        }
        router.post("/api/embed") { [self] request, _ in try await ollamaEmbed(try await json(request)) }
        router.post("/api/pull") { [self] request, _ in try await ollamaPull(try await json(request)) }
        router.delete("/api/delete") { [self] request, _ in
            let fields = try RequestFields(try await json(request))
            try fields.rejectUnknown(known: ["model", "name"])
            let name = try fields.string("model") ?? fields.requiredString("name")
            let installed = try await models.installedModel(name)
            await models.unload(installed.name)
            if await models.instances[installed.name] != nil {
                throw APIError(.conflict, "model '\(name)' is serving requests; try again when they finish")
            }
            do {
                try store.remove(installed.name)
            } catch {
                throw APIError(.internalServerError, "cannot delete '\(name)': \(error)")
            }
            return Response(status: .ok)
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Ollama's `details` object, from the file's header.
    static func details(path: String) -> JSONValue {
        guard let file = try? GGUFFile(path: path) else { return .object([:]) }
        let summary = GGUFSummary(file)
        let parameters = Double(summary.parameterCount)
        let size = parameters >= 1e9 ? String(format: "%.1fB", parameters / 1e9) : String(format: "%.0fM", parameters / 1e6)
        return .object([
            "parent_model": "", "format": "gguf", "family": .string(summary.architecture),
            "families": [.string(summary.architecture)], "parameter_size": .string(size),
            "quantization_level": .string(summary.fileType),
        ])
    }

    /// What a request's `options` ask of the engine.
    struct OllamaOptions {
        var generation: GenerationOptions
        /// `num_predict`; nil: as much as the context leaves.
        var maxTokens: Int?
        /// `num_ctx`; nil: the server's `--ctx`.
        var contextLength: Int?
    }

    /// Ollama's options that never change the output: where the weights live and how the work is
    /// split (Hearth runs on the CPU and chooses its batch and threads itself), and options
    /// Ollama itself no longer implements (`tfs_z`, `penalize_newline`).
    static let ignoredOllamaOptions: Set<String> = [
        "num_batch", "num_gpu", "main_gpu", "use_mmap", "use_mlock", "numa", "num_thread", "low_vram", "f16_kv",
        "vocab_only", "logits_all", "embedding_only", "num_gqa", "tfs_z", "penalize_newline",
        // Ollama keeps this many prompt tokens when it shifts a full context; Hearth drops whole
        // old turns instead (the system message always stays), so there is nothing to keep.
        "num_keep",
    ]

    /// Ollama's `options` mapped onto the sampler. Options that change the output are honoured;
    /// the runner and hardware ones are accepted and ignored (logged); anything else is refused by name.
    func ollamaOptions(_ value: JSONValue?) throws(APIError) -> OllamaOptions {
        if case .object(let object)? = value {
            let ignored = object.keys.filter { Self.ignoredOllamaOptions.contains($0) }
            if !ignored.isEmpty { logger.debug("ignoring Ollama options that do not change the output: \(ignored.sorted())") }
        }
        return try Self.parseOllamaOptions(value)
    }

    /// `value` (an `options` object, at `path` in the request) applied over `base`.
    static func parseOllamaOptions(_ value: JSONValue?, path: String = "options.", base: SamplingParameters = SamplingParameters(),
                                   baseStop: [String] = []) throws(APIError) -> OllamaOptions {
        var sampling = base
        var stop = baseStop
        var maxTokens: Int?
        var contextLength: Int?
        if let value {
            let fields = try RequestFields(value, path: path)
            try fields.rejectUnknown(
                known: ["temperature", "top_k", "top_p", "min_p", "typical_p", "num_predict", "stop", "seed", "repeat_penalty",
                        "repeat_last_n", "presence_penalty", "frequency_penalty", "mirostat", "mirostat_tau", "mirostat_eta", "num_ctx"],
                unsupported: ["rope_frequency_base": "the RoPE base in the model's file is always used",
                              "rope_frequency_scale": "the RoPE scale in the model's file is always used"],
                ignored: Self.ignoredOllamaOptions)
            if let temperature = try fields.number("temperature", in: 0...100) { sampling.temperature = Float(temperature) }
            if let topK = try fields.int("top_k", in: 0...Int(Int32.max)) { sampling.topK = topK }
            if let topP = try fields.number("top_p", in: 0...1) { sampling.topP = Float(topP) }
            if let minP = try fields.number("min_p", in: 0...1) { sampling.minP = Float(minP) }
            if let typicalP = try fields.number("typical_p", in: 0...1) { sampling.typicalP = Float(typicalP) }
            if let seed = try fields.int("seed", in: -1...Int.max) { sampling.seed = seed >= 0 ? UInt64(seed) : nil }
            if let penalty = try fields.number("repeat_penalty", in: 0...100) { sampling.repeatPenalty = Float(penalty) }
            if let lastN = try fields.int("repeat_last_n", in: -1...Int(Int32.max)) { sampling.repeatLastN = lastN }
            if let presence = try fields.number("presence_penalty", in: -2...2) { sampling.presencePenalty = Float(presence) }
            if let frequency = try fields.number("frequency_penalty", in: -2...2) { sampling.frequencyPenalty = Float(frequency) }
            if let mirostat = try fields.int("mirostat", in: 0...2) { sampling.mirostat = mirostat }
            if let tau = try fields.number("mirostat_tau", in: 0...100) { sampling.mirostatTau = Float(tau) }
            if let eta = try fields.number("mirostat_eta", in: 0...1) { sampling.mirostatEta = Float(eta) }
            // num_predict: -1 (and -2, "fill the context") mean no limit but the context.
            if let predict = try fields.int("num_predict", in: -2...Int(Int32.max)), predict >= 0 { maxTokens = predict }
            // Any size up to the model's trained context (clamped there when the model loads).
            contextLength = try fields.int("num_ctx", in: 1...Int(Int32.max)).map { max($0, 16) }
            if fields.value("stop") != nil { stop = try fields.stopStrings("stop") }
        }
        return OllamaOptions(generation: GenerationOptions(maxTokens: 0, sampling: try sampling.checked(), stop: stop),
                             maxTokens: maxTokens, contextLength: contextLength)
    }

    func keepAlive(_ fields: RequestFields) throws(APIError) -> Duration?? {
        switch fields.value("keep_alive") {
        case nil: return nil
        case .string(let text)?: return .some(try parseKeepAlive(text))
        case .int(let seconds)?: return .some(seconds < 0 ? nil : .seconds(min(seconds, 1 << 40)))
        case .double(let seconds)?: return .some(seconds < 0 ? nil : .milliseconds(Int64(min(seconds, 1e9) * 1000)))
        case let other?: throw APIError.invalidField("keep_alive", "expected a duration like \"5m\" or a number of seconds, got \(other.typeName)")
        }
    }

    static let unsupportedOllamaFields: [String: String] = [
        "images": "Hearth's models read text only", "template": "the model's own chat template is always used",
        "context": "the deprecated context array is not supported; send the conversation as messages",
        "logprobs": "use the OpenAI routes for logprobs", "top_logprobs": "use the OpenAI routes for logprobs",
    ]

    /// `think`: true or false (whether the model reasons first: Qwen3's `enable_thinking`), or a
    /// level, "low", "medium" or "high" (gpt-oss's reasoning effort; thinking on). Absent or
    /// null: the template's default, as Ollama leaves a reasoning model thinking. Whether the
    /// model can think is known once its template is (`ChatPlan.prepare`).
    static func think(_ fields: RequestFields) throws(APIError) -> (thinking: Bool?, effort: String?) {
        switch fields.value("think") {
        case nil, .null?: return (nil, nil)
        case .bool(let flag)?: return (flag, nil)
        case .string("")?, .string("none")?: return (false, nil)
        case .string(let level)? where ["low", "medium", "high"].contains(level): return (true, level)
        case let other?:
            throw APIError.invalidField("think", "expected true, false, \"low\", \"medium\" or \"high\", got \(other.serialized)")
        }
    }

    /// `format`: absent or "" (free text), "json" (any JSON object), or a JSON Schema.
    static func ollamaFormat(_ value: JSONValue?) throws(APIError) -> ResponseFormat? {
        switch value {
        case nil, .string("")?: return nil
        case .string("json")?: return .jsonObject
        case .string(let other)?: throw APIError.invalidField("format", "expected \"json\" or a JSON Schema object, got '\(other)'")
        case .object?: return .schema(value!)
        case let other?: throw APIError.invalidField("format", "expected \"json\" or a JSON Schema object, got \(other.typeName)")
        }
    }

    // MARK: chat and generate

    func ollamaChat(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: ["model", "messages", "stream", "options", "keep_alive", "format", "tools", "think",
                                         "truncate", "shift"],
                                 unsupported: Self.unsupportedOllamaFields)
        let model = try fields.requiredString("model")
        let think = try Self.think(fields)
        let keep = try keepAlive(fields)
        let defaults = await customization(of: model)
        let options = try ollamaOptions(defaults?.options(overriddenBy: fields.value("options")) ?? fields.value("options"))
        let stream = try fields.bool("stream") ?? true
        // Ollama drops a long conversation's oldest turns unless told not to.
        let truncate = try fields.bool("truncate") ?? true
        // Ollama shifts a full context to go on writing; Hearth ends the answer there ("length").
        _ = try fields.bool("shift")
        if let messagesValue = fields.value("messages"), messagesValue.typeName != "array" {
            throw APIError.invalidField("messages", "expected a list of messages, got \(messagesValue.typeName)")
        }
        guard let messagesValue = fields.value("messages"), case .array(let list) = messagesValue, !list.isEmpty else {
            // No messages: load (or with keep_alive 0, unload) the model, as Ollama does.
            let instance = try await models.acquire(model, keepAlive: keep, contextLength: options.contextLength)
            instance.usage.end()
            return Reply.json(.object(["model": .string(model), "created_at": .string(Self.timestamp(Date())),
                                       "message": .object(["role": "assistant", "content": ""]),
                                       "done_reason": "load", "done": true]))
        }
        let turns = try Self.ollamaTurns(list)
        let plan = try await offload { () throws(APIError) -> ChatPlan in
            let tools = try ToolFields.tools(fields.value("tools"))
            let format = try Self.ollamaFormat(fields.value("format"))
            let grammar = try format?.grammar(field: "format")
            return ChatPlan(turns: turns, tools: tools.isEmpty ? nil : ToolRequest(tools: tools, choice: .auto, parallel: true),
                            responseFormat: format, responseGrammar: grammar, reasoningEffort: think.effort, thinking: think.thinking,
                            requiresReasoning: think.thinking == true)
        }
        var request = GenerationRequest(model: model, keepAlive: keep, options: options.generation, maxTokens: options.maxTokens,
                                        connectionClosed: closed, prepare: plan.prepare)
        request.contextLength = options.contextLength
        request.conversation = plan.remoteConversation
        if truncate { request.fitting = plan.prepare(_:within:) }
        var textRequest = request
        textRequest.prepare = plan.answeringInText.prepare
        if truncate { textRequest.fitting = plan.answeringInText.prepare(_:within:) }
        return try await ollamaRespond(request, stream: stream, answerInText: (plan.repeatsAnsweredCall, textRequest)) { text, calls in
            var message: JSONObject = ["role": "assistant", "content": .string(text)]
            if !calls.isEmpty {
                message["tool_calls"] = .array(calls.enumerated().map { index, call in
                    .object(["id": .string(call.id),
                             "function": .object(["index": .int(index), "name": .string(call.name), "arguments": call.arguments])])
                })
            }
            return [("message", .object(message))]
        }
    }

    /// Ollama messages → chat turns: assistant `tool_calls` (arguments as objects) and `tool`
    /// messages (`tool_name` says which call they answer).
    static func ollamaTurns(_ list: [JSONValue]) throws(APIError) -> [ChatTurn] {
        guard list.count <= 10_000 else { throw APIError.invalidField("messages", "at most 10000 messages") }
        var turns: [ChatTurn] = []
        for (index, message) in list.enumerated() {
            let path = "messages[\(index)]"
            let fields = try RequestFields(message, path: path + ".")
            try fields.rejectUnknown(known: ["role", "content", "tool_calls", "tool_name", "tool_call_id", "thinking"], unsupported: [
                "images": "Hearth's models read text only",
            ])
            let role = try fields.requiredString("role")
            guard ["system", "user", "assistant", "tool"].contains(role) else {
                throw APIError.invalidField(path + ".role", "expected system, user, assistant or tool, got '\(role)'")
            }
            let content = try fields.string("content") ?? ""
            turns.append(try ToolFields.turn(role: role, content: content, name: try fields.string("tool_name"),
                                             callID: try fields.string("tool_call_id"), callsValue: fields.value("tool_calls"),
                                             path: path, after: turns, reasoning: ("thinking", try fields.string("thinking"))))
        }
        return turns
    }

    func ollamaGenerate(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: ["model", "prompt", "suffix", "system", "raw", "stream", "options", "keep_alive", "format",
                                         "think", "truncate", "shift"],
                                 unsupported: Self.unsupportedOllamaFields.merging(["tools": "tools need /api/chat"]) { $1 })
        let model = try fields.requiredString("model")
        let think = try Self.think(fields)
        let keep = try keepAlive(fields)
        let defaults = await customization(of: model)
        let options = try ollamaOptions(defaults?.options(overriddenBy: fields.value("options")) ?? fields.value("options"))
        let stream = try fields.bool("stream") ?? true
        let raw = try fields.bool("raw") ?? false
        let system = try fields.string("system")
        let prompt = try fields.string("prompt") ?? ""
        let suffix = try fields.string("suffix") ?? ""
        _ = try fields.bool("truncate")
        _ = try fields.bool("shift")
        if raw && system != nil { throw APIError.invalidField("system", "has no meaning with raw: true") }
        if raw && !suffix.isEmpty { throw APIError.invalidField("suffix", "has no meaning with raw: true") }
        if prompt.isEmpty && suffix.isEmpty {
            let instance = try await models.acquire(model, keepAlive: keep, contextLength: options.contextLength)
            instance.usage.end()
            return Reply.json(.object(["model": .string(model), "created_at": .string(Self.timestamp(Date())),
                                       "response": "", "done_reason": "load", "done": true]))
        }
        let grammar = try await offload { () throws(APIError) in try Self.ollamaFormat(fields.value("format"))?.grammar(field: "format") }
        var request = GenerationRequest(model: model, keepAlive: keep, options: options.generation, maxTokens: options.maxTokens,
                                        connectionClosed: closed) { loaded in
            let constraint = grammar.map { GenerationConstraint(grammar: $0) }
            if !suffix.isEmpty {
                // Code completion between prompt and suffix, in the model's own markers.
                guard let tokens = loaded.fillInTheMiddlePrompt(prefix: prompt, suffix: suffix) else {
                    throw APIError.invalidField("suffix", "\"\(model)\" does not support insert (it has no fill-in-the-middle tokens)")
                }
                return PreparedPrompt(tokens: tokens, constraint: constraint)
            }
            if raw {
                if think.thinking == true { throw APIError.invalidField("think", "has no meaning with raw: true (no template writes the prompt)") }
                return PreparedPrompt(tokens: loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true), constraint: constraint)
            }
            let turns: [ChatTurn] = (system.map { [.plain(role: "system", content: $0, name: nil)] } ?? [])
                + [.plain(role: "user", content: prompt, name: nil)]
            let plan = ChatPlan(turns: turns, tools: nil, responseFormat: nil, responseGrammar: grammar, reasoningEffort: think.effort,
                                thinking: think.thinking, requiresReasoning: think.thinking == true)
            return try plan.prepare(loaded)
        }
        request.contextLength = options.contextLength
        return try await ollamaRespond(request, stream: stream) { text, _ in [("response", .string(text))] }
    }

    /// Runs a generation and answers in Ollama's shape: NDJSON lines while streaming, then a
    /// final line with `done: true` and the counts (nanoseconds, as Ollama reports them). Tool
    /// calls go out whole, each in the line after it completes, as Ollama sends them.
    /// `answerInText`: which calls repeat calls already answered, and the request that answers in
    /// text when the output held nothing else.
    func ollamaRespond(_ request: GenerationRequest, stream: Bool,
                       answerInText: (repeats: @Sendable (ToolCall) -> Bool, request: GenerationRequest)? = nil,
                       content: @escaping @Sendable (String, [ToolCall]) -> [(String, JSONValue)]) async throws -> Response {
        let active = try await startGeneration(request)
        let model = active.answeredAs
        let started = active.started
        @Sendable func line(_ text: String, thinking: String = "", calls: [ToolCall] = [], result: GenerationResult?) -> JSONValue {
            let head: [(String, JSONValue)] = [("model", .string(model)), ("created_at", .string(Self.timestamp(Date())))]
            var object = JSONObject(head + content(text, calls))
            object["done"] = .bool(result != nil)
            // Ollama's `thinking` (in the message for chat, beside the response for generate):
            // a reasoning model's thoughts the server split from its answer.
            if !thinking.isEmpty {
                if case .object(var message)? = object["message"] {
                    message["thinking"] = .string(thinking)
                    object["message"] = .object(message)
                } else {
                    object["thinking"] = .string(thinking)
                }
            }
            if let result {
                let nanoseconds = { (seconds: Double) in JSONValue.int(Int(seconds * 1e9)) }
                object["done_reason"] = .string(result.finishReason == .length ? "length" : "stop")
                object["total_duration"] = nanoseconds(ActiveGeneration.seconds(ContinuousClock.now - started))
                object["load_duration"] = 0
                object["prompt_eval_count"] = .int(result.promptTokens)
                object["prompt_eval_duration"] = nanoseconds(result.promptSeconds)
                object["eval_count"] = .int(result.completionTokenCount)
                object["eval_duration"] = nanoseconds(result.generationSeconds)
            }
            return .object(object)
        }
        if !stream {
            let result = try await active.run { _ in }
            guard var parser = active.toolParser else { return Reply.json(line(result.text, thinking: result.reasoning, result: result)) }
            _ = parser.feed(result.text)
            _ = parser.finish()
            let calls = parser.calls.filter { !(answerInText?.repeats($0) ?? false) }
            let content = !parser.calls.isEmpty && HeldContent.isNegligible(parser.content) ? "" : parser.content
            if let answerInText, calls.isEmpty, !parser.calls.isEmpty, content.isEmpty {
                // Only repeats of answered calls: the answer is written in text instead.
                let answer = try await startGeneration(answerInText.request).run { _ in }
                return Reply.json(line(answer.text, thinking: answer.reasoning, result: answer))
            }
            return Reply.json(line(content, thinking: result.reasoning, calls: calls, result: result))
        }
        await active.waitUntilStarted()
        return Reply.stream(contentType: "application/x-ndjson") { send in
            let parser = LockedParser(active.toolParser)
            var delivered = 0
            var sentContent = false
            var sentCalls = false
            var held = HeldContent()
            func deliver(_ events: [ToolCallEvent]) async throws {
                for event in events {
                    switch event {
                    case .content(let text):
                        guard let text = held.add(text) else { continue }
                        try await send(line(text, result: nil).serialized + "\n")
                        sentContent = sentContent || !text.allSatisfy(\.isWhitespace)
                    case .callFinished:
                        let calls = parser.calls
                        guard calls.count > delivered else { continue }
                        let fresh = calls[delivered...].filter { !(answerInText?.repeats($0) ?? false) }
                        delivered = calls.count
                        guard !fresh.isEmpty else { continue }
                        try await send(line("", calls: fresh, result: nil).serialized + "\n")
                        sentCalls = true
                    case .callStarted, .arguments: break
                    }
                }
            }
            func sendThinking(_ thinking: String) async throws {
                try await send(line("", thinking: thinking, result: nil).serialized + "\n")
            }
            var result = try await active.run(onReasoning: sendThinking) { piece in
                if let events = parser.feed(piece.text) {
                    try await deliver(events)
                } else {
                    try await send(line(piece.text, result: nil).serialized + "\n")
                }
            }
            try await deliver(parser.finish() ?? [])
            let rest = held.flush()
            if parser.calls.isEmpty && !rest.isEmpty {
                try await send(line(rest, result: nil).serialized + "\n")
            }
            if let answerInText, !sentCalls, !sentContent, !parser.calls.isEmpty {
                // Only repeats of answered calls: the answer is written in text instead.
                result = try await self.startGeneration(answerInText.request).run(onReasoning: sendThinking) { piece in
                    try await send(line(piece.text, result: nil).serialized + "\n")
                }
            }
            try await send(line("", result: result).serialized + "\n")
        }
    }
}
