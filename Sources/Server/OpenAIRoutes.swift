import JSON
import Engine
import Foundation
import Hummingbird
import NIOCore
import Sampling
import Templates

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
            return try store.list().map { InstalledModelSummary(name: $0.name, path: $0.path, sha256: $0.sha256, size: $0.size, modified: $0.modified) }
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
    }

    func openAISampling(_ fields: RequestFields, logprobs: Int?) throws(APIError) -> OpenAISampling {
        var sampling = SamplingParameters()
        // OpenAI's defaults: temperature 1, top_p 1, and no top-k or min-p cut.
        sampling.temperature = Float(try fields.number("temperature", in: 0...2) ?? 1)
        sampling.topP = Float(try fields.number("top_p", in: 0...1) ?? 1)
        sampling.topK = 0
        sampling.minP = 0
        sampling.presencePenalty = Float(try fields.number("presence_penalty", in: -2...2) ?? 0)
        sampling.frequencyPenalty = Float(try fields.number("frequency_penalty", in: -2...2) ?? 0)
        sampling.repeatLastN = -1
        if let seed = try fields.int("seed", in: 0...Int.max) { sampling.seed = UInt64(seed) }
        var maxTokens = try fields.int("max_completion_tokens", in: 1...Int(Int32.max))
        if maxTokens == nil { maxTokens = try fields.int("max_tokens", in: 1...Int(Int32.max)) }
        if let n = try fields.int("n", in: 1...Int(Int32.max)), n != 1 {
            throw APIError.unsupported("n", "only one choice per request (n = 1)")
        }
        let stream = try fields.bool("stream") ?? false
        var includeUsage = false
        if let value = fields.value("stream_options") {
            let streamOptions = try RequestFields(value, path: "stream_options.")
            try streamOptions.rejectUnknown(known: ["include_usage"])
            includeUsage = try streamOptions.bool("include_usage") ?? false
        }
        let options = GenerationOptions(maxTokens: 0, sampling: try sampling.checked(), stop: try fields.stopStrings("stop"), logprobs: logprobs)
        return OpenAISampling(options: options, maxTokens: maxTokens, stream: stream, includeUsage: includeUsage)
    }

    static let unsupportedOpenAIFields: [String: String] = [
        "functions": "the deprecated 'functions' field is not supported; send 'tools'",
        "function_call": "the deprecated 'function_call' field is not supported; send 'tool_choice'",
        "logit_bias": "logit bias is not implemented",
        "audio": "audio output is not supported", "modalities": "only text is supported",
        "prediction": "predicted outputs are not supported", "reasoning_effort": "no reasoning models are served yet",
        "web_search_options": "web search is not supported",
        "echo": "echo is not supported", "suffix": "fill-in-the-middle is not supported yet", "best_of": "best_of is not supported",
        "service_tier": "there is one tier: this machine",
    ]

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
            "prompt_tokens": .int(result.promptTokens), "completion_tokens": .int(result.tokens.count),
            "total_tokens": .int(result.promptTokens + result.tokens.count),
            "prompt_tokens_details": .object(["cached_tokens": .int(result.reusedPromptTokens)]),
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
            known: ["model", "prompt", "temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty",
                    "frequency_penalty", "logprobs", "stream", "stream_options", "n", "user"],
            unsupported: Self.unsupportedOpenAIFields)
        let model = try fields.requiredString("model")
        let prompt: String
        switch fields.value("prompt") {
        case .string(let text)?: prompt = text
        case .array(let items)? where items.count == 1:
            guard case .string(let text) = items[0] else { throw APIError.unsupported("prompt", "token-id prompts are not supported; send text") }
            prompt = text
        case .array?: throw APIError.unsupported("prompt", "one prompt per request")
        case nil: throw APIError.invalidField("prompt", "is required")
        case let other?: throw APIError.invalidField("prompt", "expected a string, got \(other.typeName)")
        }
        let logprobs = try fields.int("logprobs", in: 0...5)
        var sampling = try openAISampling(fields, logprobs: logprobs)
        // The legacy endpoint's default is 16 tokens.
        sampling.maxTokens = sampling.maxTokens ?? 16
        let request = GenerationRequest(model: model, options: sampling.options, maxTokens: sampling.maxTokens, connectionClosed: closed) { loaded in
            loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: false)
        }
        let active = try await startGeneration(request)
        let id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = JSONValue.int(Int(Date().timeIntervalSince1970))
        let includeUsage = sampling.includeUsage
        @Sendable func choice(_ text: String, logprobs entries: [TokenLogprob]?, finish: JSONValue) -> JSONValue {
            .object(["text": .string(text), "index": 0, "logprobs": entries.map(Self.completionLogprobs) ?? .null, "finish_reason": finish])
        }
        if !sampling.stream {
            let result = try await active.run { _ in }
            return Reply.json(.object([
                "id": .string(String(id)), "object": "text_completion", "created": created, "model": .string(model),
                "choices": [choice(result.text, logprobs: logprobs == nil ? nil : result.logprobs, finish: .string(Self.finishReason(result)))],
                "usage": Self.usage(result),
            ]))
        }
        return Reply.stream(contentType: "text/event-stream") { send in
            func event(_ choices: [JSONValue], usage: JSONValue? = nil) -> String {
                var object: JSONObject = ["id": .string(String(id)), "object": "text_completion", "created": created,
                                          "model": .string(model), "choices": .array(choices)]
                if let usage { object["usage"] = usage }
                return "data: \(JSONValue.object(object).serialized)\n\n"
            }
            let result = try await active.run { piece in
                try await send(event([choice(piece.text, logprobs: logprobs == nil ? nil : piece.logprobs, finish: .null)]))
            }
            try await send(event([choice("", logprobs: nil, finish: .string(Self.finishReason(result)))]))
            if includeUsage { try await send(event([], usage: Self.usage(result))) }
            try await send("data: [DONE]\n\n")
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
        try fields.rejectUnknown(known: ["model", "input", "encoding_format", "user"],
                                 unsupported: ["dimensions": "the model's embedding size is fixed"])
        let model = try fields.requiredString("model")
        let inputs = try Self.embeddingInputs(fields.value("input"))
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalidField("encoding_format", "expected 'float' or 'base64', got '\(format)'")
        }
        let (vectors, tokens) = try await embeddings(model: model, inputs: inputs)
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

    static func embeddingInputs(_ value: JSONValue?) throws(APIError) -> [String] {
        switch value {
        case .string(let text)?: return [text]
        case .array(let items)?:
            guard !items.isEmpty, items.count <= 256 else { throw APIError.invalidField("input", "expected 1...256 inputs, got \(items.count)") }
            return try items.map { item throws(APIError) in
                guard case .string(let text) = item else { throw APIError.unsupported("input", "only text inputs (not token ids)") }
                return text
            }
        case nil: throw APIError.invalidField("input", "is required")
        case let other?: throw APIError.invalidField("input", "expected a string or a list of strings, got \(other.typeName)")
        }
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
