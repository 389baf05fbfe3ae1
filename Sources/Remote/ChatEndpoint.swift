import AsyncHTTPClient
import Foundation
import NIOCore

/// One message of a conversation sent to an endpoint.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A failure talking to an endpoint, said for people.
public struct RemoteError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How an endpoint is asked: greedy by default.
public struct ChatSettings: Sendable, Equatable {
    public var temperature: Double = 0
    public var topP: Double?
    public var stop: [String] = []
    public var maxTokens: Int?
    /// Ask for the tokens' log-probabilities (for the router's calibration).
    public var logprobs = false

    public init(temperature: Double = 0, topP: Double? = nil, stop: [String] = [], maxTokens: Int? = nil, logprobs: Bool = false) {
        self.temperature = temperature
        self.topP = topP
        self.stop = stop
        self.maxTokens = maxTokens
        self.logprobs = logprobs
    }
}

/// An OpenAI-compatible chat endpoint (`POST {base}/chat/completions`): a `hearth serve` started
/// for an evaluation, a second server, `llama-server`, or a cloud service (the router's last
/// tier). Nothing is sent anywhere but `baseURL`.
public struct ChatEndpoint: Sendable {
    /// The answer to one request.
    public struct Answer: Sendable, Equatable {
        public var text: String
        public var promptTokens: Int
        public var completionTokens: Int
        /// Mean log-probability of the answer's tokens; nil when the endpoint gave none.
        public var meanLogprob: Double?
        public var finishReason: String?
        /// The model the endpoint says answered (a router names the tier it chose).
        public var model: String?

        public init(text: String, promptTokens: Int, completionTokens: Int, meanLogprob: Double? = nil, finishReason: String? = nil,
                    model: String? = nil) {
            self.text = text
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.meanLogprob = meanLogprob
            self.finishReason = finishReason
            self.model = model
        }
    }

    public let baseURL: String
    public let model: String
    let apiKey: String?
    let timeout: Duration

    /// `url` is the API's base (`http://127.0.0.1:8080/v1`); a bare `http://host:port` gets `/v1`.
    public init(url: String, model: String, apiKey: String? = nil, timeout: Duration = .seconds(900)) throws {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              parsed.host?.isEmpty == false, parsed.query == nil, parsed.fragment == nil else {
            throw RemoteError("an endpoint must be an http:// or https:// URL without a query, like http://127.0.0.1:8080/v1; got '\(url)'")
        }
        guard !model.isEmpty else { throw RemoteError("an endpoint's model name must not be empty") }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if parsed.path.isEmpty || parsed.path == "/" { base += "/v1" }
        baseURL = base
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
    }

    /// Asks `messages` greedily (temperature 0), at most `maxTokens` tokens.
    public func answer(_ messages: [ChatMessage], maxTokens: Int, logprobs: Bool, client: HTTPClient) async throws -> Answer {
        try await answer(messages, settings: ChatSettings(maxTokens: maxTokens, logprobs: logprobs), client: client)
    }

    /// Asks `messages` with `settings`. A busy endpoint (429, 503) is asked again after a pause,
    /// a few times.
    public func answer(_ messages: [ChatMessage], settings: ChatSettings, client: HTTPClient) async throws -> Answer {
        var body: [String: Any] = [
            "model": model,
            "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "temperature": settings.temperature,
            "stream": false,
        ]
        if let maxTokens = settings.maxTokens { body["max_tokens"] = maxTokens }
        if let topP = settings.topP { body["top_p"] = topP }
        if !settings.stop.isEmpty { body["stop"] = settings.stop }
        if settings.logprobs { body["logprobs"] = true }
        let payload = try JSONSerialization.data(withJSONObject: body)
        var attempt = 0
        while true {
            var request = HTTPClientRequest(url: baseURL + "/chat/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
            request.body = .bytes(ByteBuffer(bytes: payload))
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
            } catch {
                throw RemoteError("\(baseURL): \(error)")
            }
            let data = Data((try await response.body.collect(upTo: 64 << 20)).readableBytesView)
            if (response.status.code == 429 || response.status.code == 503) && attempt < 5 {
                attempt += 1
                try await Task.sleep(for: .seconds(attempt * 2))
                continue
            }
            guard response.status.code == 200 else {
                let message = String(decoding: data.prefix(500), as: UTF8.self)
                throw RemoteError("\(baseURL) answered \(response.status.code) for model '\(model)': \(message)")
            }
            return try Self.parse(data, from: baseURL)
        }
    }

    static func parse(_ data: Data, from url: String) throws -> Answer {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let message = choice["message"] as? [String: Any] else {
            throw RemoteError("\(url) did not answer with a chat completion: \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        let usage = object["usage"] as? [String: Any]
        let logprobs = ((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])?.compactMap { ($0["logprob"] as? NSNumber)?.doubleValue }
        return Answer(text: message["content"] as? String ?? "",
                      promptTokens: (usage?["prompt_tokens"] as? NSNumber)?.intValue ?? 0,
                      completionTokens: (usage?["completion_tokens"] as? NSNumber)?.intValue ?? 0,
                      meanLogprob: logprobs.flatMap { $0.isEmpty ? nil : $0.reduce(0, +) / Double($0.count) },
                      finishReason: choice["finish_reason"] as? String, model: object["model"] as? String)
    }
}
