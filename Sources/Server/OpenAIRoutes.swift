import Store
import JSON
import Engine
import Foundation
import Hummingbird
import NIOCore
import Sampling
import Templates
import ToolCalls

/// OpenAI's API: `/v1/models`, `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`.
extension HearthServer {
    func addOpenAIRoutes(to router: Router<HearthRequestContext>) {
        router.get("/v1/models") { [self] _, _ in
            let installed = try listInstalled()
            return Reply.json(.object([
                "object": "list",
                "data": .array(installed.map { model in
                    .object(["id": .string(model.name), "object": "model",
                             "created": .int(Int(model.modified.timeIntervalSince1970)), "owned_by": "hearth"])
                }),
            ]))
        }
        router.get("/v1/models/{id}") { [self] _, context in
            let id = context.parameters.get("id") ?? ""
            let model = try await models.installedModel(id)
            return Reply.json(.object(["id": .string(model.name), "object": "model",
                                       "created": .int(Int(model.modified.timeIntervalSince1970)), "owned_by": "hearth"]))
        }
        router.post("/v1/chat/completions") { [self] request, context in
            try await chatCompletions(try await json(request), closed: context.connectionClosed)
        }
        router.post("/v1/completions") { [self] request, context in
            try await completions(try await json(request), closed: context.connectionClosed)
        }
        router.post("/v1/embeddings") { [self] request, _ in
            try await openAIEmbeddings(try await json(request))
        }
    }

    func listInstalled() throws -> [InstalledModelSummary] {
        do {
            return try (configuration.servedFiles + store.list()).map {
                InstalledModelSummary(name: $0.name, path: $0.path, sha256: $0.sha256, size: $0.size, modified: $0.modified)
            }
        } catch {
            throw APIError(.internalServerError, "cannot list the store: \(error)")
        }
    }

    /// The request fields both completion routes share, validated.
    struct OpenAISampling {
        var options: GenerationOptions
        var maxTokens: Int?
        var stream: Bool
        var includeUsage: Bool
        /// `n`: answers per prompt.
        var choices: Int
        /// A created model's `num_ctx`; nil: the server's `--ctx`.
        var contextLength: Int? = nil

        /// Choice `index`'s options: with a seed, each choice draws from its own (seed + index),
        /// so `n` answers differ and the first is what the same request with `n` = 1 gives.
        func options(forChoice index: Int) -> GenerationOptions {
            var options = options
            if index > 0, let seed = options.sampling.seed { options.sampling.seed = seed &+ UInt64(index) }
            return options
        }
    }

    /// The OpenAI sampling fields over the defaults of `defaults` (a created model's
    /// PARAMETERs, which replace OpenAI's own defaults where they set something).
    func openAISampling(_ fields: RequestFields, logprobs: Int?, defaults: ModelCustomization? = nil) throws(APIError) -> OpenAISampling {
        let model = try Self.cloudDefaults(under: defaults)
        var sampling = model.generation.sampling
        if let temperature = try fields.number("temperature", in: 0...2) { sampling.temperature = Float(temperature) }
        if let topP = try fields.number("top_p", in: 0...1) { sampling.topP = Float(topP) }
        if let presence = try fields.number("presence_penalty", in: -2...2) { sampling.presencePenalty = Float(presence) }
        if let frequency = try fields.number("frequency_penalty", in: -2...2) { sampling.frequencyPenalty = Float(frequency) }
        if let seed = try fields.int("seed", in: 0...Int.max) { sampling.seed = UInt64(seed) }
        var maxTokens = try fields.int("max_completion_tokens", in: 1...Int(Int32.max))
        if maxTokens == nil { maxTokens = try fields.int("max_tokens", in: 1...Int(Int32.max)) }
        if maxTokens == nil { maxTokens = model.maxTokens }
        let choices = try fields.int("n", in: 1...128) ?? 1
        if let bias = fields.value("logit_bias") {
            guard case .object(let entries) = bias else { throw APIError.invalidField("logit_bias", "expected an object of token id → bias") }
            for (key, value) in entries.pairs {
                guard let token = Int32(key), token >= 0 else {
                    throw APIError.invalidField("logit_bias", "keys are token ids (whole numbers ≥ 0), got '\(key)'")
                }
                let number: Double? = switch value {
                case .int(let int): Double(int)
                case .double(let double): double
                default: nil
                }
                guard let number, (-100...100).contains(number) else {
                    throw APIError.invalidField("logit_bias", "token \(key): the bias must be a number in -100...100, got \(value.serialized)")
                }
                sampling.logitBias[token] = Float(number)
            }
        }
        let stream = try fields.bool("stream") ?? false
        var includeUsage = false
        if let value = fields.value("stream_options") {
            let streamOptions = try RequestFields(value, path: "stream_options.")
            try streamOptions.rejectUnknown(known: ["include_usage"])
            includeUsage = try streamOptions.bool("include_usage") ?? false
        }
        let stop = fields.value("stop") == nil ? model.generation.stop : try fields.stopStrings("stop")
        let options = GenerationOptions(maxTokens: 0, sampling: try sampling.checked(), stop: stop, logprobs: logprobs)
        return OpenAISampling(options: options, maxTokens: maxTokens, stream: stream, includeUsage: includeUsage, choices: choices,
                              contextLength: model.contextLength)
    }

    static let unsupportedOpenAIFields: [String: String] = [
        "functions": "the deprecated 'functions' field is not supported; send 'tools'",
        "function_call": "the deprecated 'function_call' field is not supported; send 'tool_choice'",
        "audio": "audio output is not supported", "web_search_options": "web search is not supported",
    ]

    /// Fields that never change the output: bookkeeping (`user`, `metadata`, `store`, cache and
    /// safety identifiers), the service tier (there is one: this machine), a predicted output
    /// (a speed hint), and the reasoning effort where no chat template reads it (`/v1/completions`;
    /// chat passes it to the template, see `reasoningEffort(_:)`).
    static let ignoredOpenAIFields: Set<String> = [
        "user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier", "prediction", "reasoning_effort",
    ]

    /// `reasoning_effort`: one of OpenAI's levels, for the chat template (gpt-oss's writes it
    /// into its system message).
    static func reasoningEffort(_ fields: RequestFields) throws(APIError) -> String? {
        guard let effort = try fields.string("reasoning_effort") else { return nil }
        guard ["none", "minimal", "low", "medium", "high"].contains(effort) else {
            throw APIError.invalidField("reasoning_effort", "expected \"none\", \"minimal\", \"low\", \"medium\" or \"high\", got \"\(effort)\"")
        }
        return effort
    }

    /// `chat_template_kwargs` (llama-server's and vLLM's): more variables for the chat template,
    /// as `{"enable_thinking": false}` turns Qwen3's reasoning off. The variables the request
    /// itself sets cannot be replaced.
    static func templateArguments(_ fields: RequestFields) throws(APIError) -> [String: TemplateValue] {
        guard let value = fields.value("chat_template_kwargs") else { return [:] }
        guard case .object(let object) = value else {
            throw APIError.invalidField("chat_template_kwargs", "expected an object of template variables, got \(value.typeName)")
        }
        guard object.pairs.count <= 64 else { throw APIError.invalidField("chat_template_kwargs", "at most 64 variables, got \(object.pairs.count)") }
        var arguments: [String: TemplateValue] = [:]
        for (key, item) in object.pairs {
            guard !["messages", "add_generation_prompt", "bos_token", "eos_token", "tools", "documents"].contains(key) else {
                throw APIError.invalidField("chat_template_kwargs.\(key)", "is set from the request itself, not as a template variable")
            }
            arguments[key] = templateValue(item)
        }
        return arguments
    }

    /// `modalities`: text is all Hearth writes, so only `["text"]` is accepted.
    static func checkModalities(_ fields: RequestFields) throws(APIError) {
        guard let value = fields.value("modalities") else { return }
        guard value == .array(["text"]) else {
            throw APIError.unsupported("modalities", "only text output, got \(value.serialized)")
        }
    }

    /// A string, or a list of `{"type": "text", "text": …}` parts joined by newlines.
    static func textContent(_ value: JSONValue?, field: String) throws(APIError) -> String {
        switch value {
        case .string(let text)?: return text
        case nil: return ""
        case .array(let parts)?:
            var texts: [String] = []
            for (index, part) in parts.enumerated() {
                let fields = try RequestFields(part, path: "\(field)[\(index)].")
                let type = try fields.requiredString("type")
                guard type == "text" else { throw APIError.unsupported("\(field)[\(index)].type", "only text parts, got '\(type)'") }
                try fields.rejectUnknown(known: ["type", "text"])
                texts.append(try fields.requiredString("text"))
            }
            return texts.joined(separator: "\n")
        case let other?:
            throw APIError.invalidField(field, "expected a string or a list of text parts, got \(other.typeName)")
        }
    }

    static func finishReason(_ result: GenerationResult) -> String {
        result.finishReason == .length ? "length" : "stop"
    }

    static func usage(_ result: GenerationResult) -> JSONValue {
        .object([
            "prompt_tokens": .int(result.promptTokens), "completion_tokens": .int(result.completionTokenCount),
            "total_tokens": .int(result.promptTokens + result.completionTokenCount),
            "prompt_tokens_details": .object(["cached_tokens": .int(result.reusedPromptTokens)]),
        ])
    }

    /// Usage over several choices: each prompt counted once (its choices share it), every
    /// choice's completion counted.
    static func usage(_ results: [GenerationResult], choicesPerPrompt: Int) -> JSONValue {
        guard results.count > 1 else { return results.first.map(usage) ?? .null }
        let prompt = stride(from: 0, to: results.count, by: max(choicesPerPrompt, 1)).reduce(0) { $0 + results[$1].promptTokens }
        let cached = stride(from: 0, to: results.count, by: max(choicesPerPrompt, 1)).reduce(0) { $0 + results[$1].reusedPromptTokens }
        let completion = results.reduce(0) { $0 + $1.completionTokenCount }
        return .object([
            "prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(prompt + completion),
            "prompt_tokens_details": .object(["cached_tokens": .int(cached)]),
        ])
    }

    static func chatLogprobs(_ logprobs: [TokenLogprob]) -> JSONValue {
        .object(["content": .array(logprobs.map { entry in
            .object([
                "token": .string(entry.text), "logprob": .double(Double(entry.logprob)),
                "bytes": .array(Array(entry.text.utf8).map { .int(Int($0)) }),
                "top_logprobs": .array(entry.top.map { alternative in
                    .object(["token": .string(alternative.text), "logprob": .double(Double(alternative.logprob)),
                             "bytes": .array(Array(alternative.text.utf8).map { .int(Int($0)) })])
                }),
            ])
        })])
    }

    // MARK: completions

    func completions(_ body: JSONValue, closed: EventLoopFuture<Void>? = nil) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(
            known: ["model", "prompt", "suffix", "echo", "temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
                    "frequency_penalty", "logprobs", "logit_bias", "stream", "stream_options", "n", "best_of"],
            unsupported: Self.unsupportedOpenAIFields, ignored: Self.ignoredOpenAIFields)
        let model = try fields.requiredString("model")
        let prompts = try Self.completionPrompts(fields.value("prompt"))
        let suffix = try fields.string("suffix") ?? ""
        let echo = try fields.bool("echo") ?? false
        let logprobs = try fields.int("logprobs", in: 0...5)
        var sampling = try openAISampling(fields, logprobs: logprobs, defaults: await customization(of: model))
        if let bestOf = try fields.int("best_of", in: 1...128), bestOf != sampling.choices {
            throw APIError.unsupported("best_of", "only best_of = n (every sequence generated is returned), got best_of \(bestOf) and n \(sampling.choices)")
        }
        if echo && logprobs != nil { throw APIError.unsupported("echo", "echo with logprobs needs the prompt's logprobs, which Hearth does not compute") }
        if echo && !suffix.isEmpty { throw APIError.invalidField("suffix", "has no meaning with echo: true") }
        let choiceCount = prompts.count * sampling.choices
        guard choiceCount <= 128 else { throw APIError.invalidField("n", "at most 128 choices per request (prompts × n), got \(choiceCount)") }
        // The legacy endpoint's default is 16 tokens.
        sampling.maxTokens = sampling.maxTokens ?? 16
        let requests = (0..<choiceCount).map { index in
            let prompt = prompts[index / sampling.choices]
            var request = GenerationRequest(model: model, options: sampling.options(forChoice: index), maxTokens: sampling.maxTokens,
                                            connectionClosed: closed) { loaded in
                if !suffix.isEmpty {
                    guard let tokens = loaded.fillInTheMiddlePrompt(prefix: prompt.text(loaded), suffix: suffix) else {
                        throw APIError.invalidField("suffix", "'\(model)' was not trained to fill in the middle (it has no such tokens)")
                    }
                    return tokens
                }
                return try prompt.tokens(loaded)
            }
            request.contextLength = sampling.contextLength
            return request
        }
        let actives = try await startGenerations(requests)
        let answeredModel = actives[0].answeredAs
        let id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = JSONValue.int(Int(Date().timeIntervalSince1970))
        let includeUsage = sampling.includeUsage
        let choicesPerPrompt = sampling.choices
        @Sendable func choice(_ index: Int, _ text: String, logprobs entries: [TokenLogprob]?, finish: JSONValue) -> JSONValue {
            .object(["text": .string(text), "index": .int(index), "logprobs": entries.map(Self.completionLogprobs) ?? .null,
                     "finish_reason": finish])
        }
        @Sendable func echoed(_ index: Int) -> String {
            echo ? prompts[index / choicesPerPrompt].echo(actives[index].instance.loaded) : ""
        }
        if !sampling.stream {
            let results = try await Self.runAll(actives)
            return Reply.json(.object([
                "id": .string(String(id)), "object": "text_completion", "created": created, "model": .string(answeredModel),
                "choices": .array(results.enumerated().map { index, result in
                    choice(index, echoed(index) + result.text, logprobs: logprobs == nil ? nil : result.logprobs,
                           finish: .string(Self.finishReason(result)))
                }),
                "usage": Self.usage(results, choicesPerPrompt: choicesPerPrompt),
            ]))
        }
        for active in actives { await active.waitUntilStarted() }
        return Reply.stream(contentType: "text/event-stream") { send in
            @Sendable func event(_ choices: [JSONValue], usage: JSONValue? = nil) -> String {
                var object: JSONObject = ["id": .string(String(id)), "object": "text_completion", "created": created,
                                          "model": .string(answeredModel), "choices": .array(choices)]
                if let usage { object["usage"] = usage }
                return "data: \(JSONValue.object(object).serialized)\n\n"
            }
            let results = try await Self.merged(count: actives.count, send: send) { index, emit in
                if echo { try await emit(event([choice(index, echoed(index), logprobs: nil, finish: .null)])) }
                let result = try await actives[index].run { piece in
                    try await emit(event([choice(index, piece.text, logprobs: logprobs == nil ? nil : piece.logprobs, finish: .null)]))
                }
                try await emit(event([choice(index, "", logprobs: nil, finish: .string(Self.finishReason(result)))]))
                return result
            }
            if includeUsage { try await send(event([], usage: Self.usage(results, choicesPerPrompt: choicesPerPrompt))) }
            try await send("data: [DONE]\n\n")
        }
    }

    /// `prompt` of the legacy completions: a string, a list of strings, a list of token ids, or a
    /// list of lists of token ids; each is a prompt of its own with its own choices.
    static func completionPrompts(_ value: JSONValue?) throws(APIError) -> [CompletionPrompt] {
        switch value {
        case .string(let text)?: return [.text(text)]
        case .array(let items)?:
            guard !items.isEmpty else { throw APIError.invalidField("prompt", "must not be empty") }
            return try EmbeddingInput.parse(value, field: "prompt").map { input in
                switch input {
                case .text(let text): .text(text)
                case .tokens(let ids): .tokens(ids)
                }
            }
        case nil: throw APIError.invalidField("prompt", "is required")
        case let other?: throw APIError.invalidField("prompt", "expected a string, a list of strings or token ids, got \(other.typeName)")
        }
    }

    static func completionLogprobs(_ entries: [TokenLogprob]) -> JSONValue {
        var offset = 0
        var offsets: [JSONValue] = []
        for entry in entries {
            offsets.append(.int(offset))
            offset += entry.text.count
        }
        return .object([
            "tokens": .array(entries.map { .string($0.text) }),
            "token_logprobs": .array(entries.map { .double(Double($0.logprob)) }),
            "top_logprobs": .array(entries.map { entry in
                .object(JSONObject(entry.top.map { ($0.text, JSONValue.double(Double($0.logprob))) }))
            }),
            "text_offset": .array(offsets),
        ])
    }

    // MARK: embeddings

    func openAIEmbeddings(_ body: JSONValue) async throws -> Response {
        let fields = try RequestFields(body)
        try fields.rejectUnknown(known: ["model", "input", "encoding_format", "user", "dimensions"])
        let model = try fields.requiredString("model")
        let inputs = try EmbeddingInput.parse(fields.value("input"))
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalidField("encoding_format", "expected 'float' or 'base64', got '\(format)'")
        }
        let dimensions = try fields.int("dimensions", in: 1...1_000_000)
        _ = try await models.installedModel(model)
        let texts = try await offload { () throws(APIError) in try OpenAITokenIDs.texts(inputs) }
        let (vectors, tokens) = try await embeddings(model: model, inputs: texts)
        try Self.checkDimensions(dimensions, model: model, size: vectors.first?.count ?? 0)
        let data: [JSONValue] = vectors.enumerated().map { index, vector in
            let embedding: JSONValue
            if format == "base64" {
                // Little-endian float32, as OpenAI sends it.
                var bytes = Data(capacity: vector.count * 4)
                for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                embedding = .string(bytes.base64EncodedString())
            } else {
                embedding = .array(vector.map { .double(Double($0)) })
            }
            return .object(["object": "embedding", "index": .int(index), "embedding": embedding])
        }
        return Reply.json(.object([
            "object": "list", "data": .array(data), "model": .string(model),
            "usage": .object(["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)]),
        ]))
    }

    /// `dimensions` shortens embeddings only for models trained to be shortened (Matryoshka);
    /// Hearth's models are not, so only their own size is accepted.
    static func checkDimensions(_ dimensions: Int?, model: String, size: Int) throws(APIError) {
        guard let dimensions, dimensions != size else { return }
        throw APIError.invalidField("dimensions", "'\(model)' makes embeddings of \(size) dimensions and was not trained to shorten them; got \(dimensions)")
    }
}

/// What the model-list routes show of an installed model.
struct InstalledModelSummary: Sendable {
    let name: String
    let path: String
    let sha256: String
    let size: Int64
    let modified: Date
}
