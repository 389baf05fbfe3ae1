import AsyncHTTPClient
import Engine
import Foundation
import Ledger
import Remote
import Store

/// `model: "auto"`: the smallest model that is good enough answers. The policy is a file the user
/// reads and edits, `HEARTH_HOME/router.json`:
///
///     {"tiers": ["qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"], "min_mean_logprob": -0.3,
///      "checks": ["complete", "python"],
///      "remote": {"url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}}
///
/// A cascade: each tier but the last answers in full first (unseen by the client); when the mean
/// log-probability of its tokens — how sure the model was of what it wrote — is at least
/// `min_mean_logprob` and the answer passes every check (``AnswerCheck``), that answer is sent;
/// otherwise the next tier answers. The last tier answers live — unless a `remote` endpoint (any
/// OpenAI-compatible API; off unless configured, never contacted otherwise) is the last tier:
/// then the last local tier is judged too, and only a text chat it fails goes to the remote.
/// Without the file the tiers are the installed models, smallest file first, and the threshold
/// is ``RouterPolicy/defaultThreshold``. Every answer names its model (the response's `model`,
/// the `X-Hearth-Model` header) and why (`X-Hearth-Router`, the ledger's `decision`).
public struct RouterPolicy: Codable, Sendable, Equatable {
    public var tiers: [String]
    public var minMeanLogprob: Double
    /// What an answer must also pass to be kept.
    public var checks: [AnswerCheck]
    /// An OpenAI-compatible endpoint that answers what every local tier failed.
    public var remote: RemoteTier?

    /// The remote last tier: the API's base URL, the model to ask, and the environment variable
    /// holding its key (read when a request goes there; the key is never written to a file).
    public struct RemoteTier: Codable, Sendable, Equatable {
        public var url: String
        public var model: String
        public var apiKeyEnv: String?

        enum CodingKeys: String, CodingKey {
            case url, model, apiKeyEnv = "api_key_env"
        }

        public init(url: String, model: String, apiKeyEnv: String? = nil) {
            self.url = url
            self.model = model
            self.apiKeyEnv = apiKeyEnv
        }
    }

    enum CodingKeys: String, CodingKey {
        case tiers, minMeanLogprob = "min_mean_logprob", checks, remote
    }

    public init(tiers: [String], minMeanLogprob: Double, checks: [AnswerCheck] = [], remote: RemoteTier? = nil) {
        self.tiers = tiers
        self.minMeanLogprob = minMeanLogprob
        self.checks = checks
        self.remote = remote
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tiers = try container.decode([String].self, forKey: .tiers)
        minMeanLogprob = try container.decode(Double.self, forKey: .minMeanLogprob)
        checks = try container.decodeIfPresent([AnswerCheck].self, forKey: .checks) ?? []
        remote = try container.decodeIfPresent(RemoteTier.self, forKey: .remote)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tiers, forKey: .tiers)
        try container.encode(minMeanLogprob, forKey: .minMeanLogprob)
        if !checks.isEmpty { try container.encode(checks, forKey: .checks) }
        try container.encodeIfPresent(remote, forKey: .remote)
    }

    public static let modelName = "auto"
    public static let fileName = "router.json"

    /// Writes the policy to `root/router.json` (atomically), for `hearth eval --write-router`.
    public func write(under root: URL) throws -> URL {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let url = root.appendingPathComponent(Self.fileName)
        try encoder.encode(self).write(to: url, options: .atomic)
        return url
    }
    /// Below this mean token log-probability (a geometric-mean token probability of 0.74) an
    /// answer is escalated; measured on the catalog's coder models (BENCHMARKS.md, session 13).
    static let defaultThreshold = -0.3
}

/// What the router decided for the request being handled (set by `ErrorMiddleware`, read back
/// for the response headers).
final class RoutingNote: @unchecked Sendable {
    private let lock = NSLock()
    private var chosen: (model: String, reason: String)?

    func set(model: String, reason: String) { lock.withLock { chosen = (model, reason) } }
    var decision: (model: String, reason: String)? { lock.withLock { chosen } }

    @TaskLocal static var current: RoutingNote?
}

extension HearthServer {
    /// The policy in force: `router.json` if present (checked), else every installed model,
    /// smallest first.
    func routerPolicy() throws(APIError) -> RouterPolicy {
        let url = store.root.appendingPathComponent(RouterPolicy.fileName)
        if let data = FileManager.default.contents(atPath: url.path) {
            let policy: RouterPolicy
            do {
                policy = try JSONDecoder().decode(RouterPolicy.self, from: data)
            } catch {
                throw APIError(.internalServerError, "\(url.path) is not a router policy: \(error)")
            }
            guard !policy.tiers.isEmpty, policy.minMeanLogprob.isFinite, policy.minMeanLogprob <= 0 else {
                throw APIError(.internalServerError, "\(url.path): 'tiers' must name at least one model and 'min_mean_logprob' be a number ≤ 0")
            }
            if let remote = policy.remote {
                do {
                    _ = try ChatEndpoint(url: remote.url, model: remote.model)
                } catch {
                    throw APIError(.internalServerError, "\(url.path): remote: \(error)")
                }
            }
            if policy.checks.contains(.python), AnswerCheck.pythonInterpreter() == nil {
                throw APIError(.internalServerError, "\(url.path): the 'python' check needs python3 on the PATH, and there is none")
            }
            return policy
        }
        let installed: [InstalledModel]
        do { installed = try store.list() } catch { throw APIError(.internalServerError, "cannot read the store: \(error)") }
        let tiers = (configuration.servedFiles + installed).sorted { ($0.size, $0.name) < ($1.size, $1.name) }.map(\.name)
        guard !tiers.isEmpty else { throw .modelNotFound("model 'auto' needs installed models to choose from; pull one first") }
        return RouterPolicy(tiers: tiers, minMeanLogprob: RouterPolicy.defaultThreshold)
    }

    /// The cascade for `model: "auto"` (see ``RouterPolicy``): returns the generation whose answer
    /// the client gets — a finished one replayed, or the last tier's running one.
    func startRoutedGeneration(_ request: GenerationRequest) async throws -> ActiveGeneration {
        let policy = try routerPolicy()
        // The remote tier answers only what it can be sent: a text chat.
        let remote = request.conversation != nil ? policy.remote : nil
        var reasons: [String] = []
        if policy.remote != nil && remote == nil { reasons.append("remote tier not asked (not a plain text chat)") }
        for (index, tier) in policy.tiers.enumerated() {
            var attempt = request
            attempt.model = tier
            let isLast = index == policy.tiers.count - 1
            if isLast && remote == nil {
                let reason = (reasons + ["\(tier): the last tier"]).joined(separator: "; ")
                RoutingNote.current?.set(model: tier, reason: reason)
                return try await startGeneration(attempt, answeredAs: tier, decision: "auto: " + reason)
            }
            // The answer's own token log-probabilities are the signal; the client's logprobs
            // setting is kept in the options it sees (the routes decide what to show).
            attempt.options.logprobs = max(attempt.options.logprobs ?? 0, 0)
            let active = try await startGeneration(attempt, answeredAs: tier, records: false)
            var pieces: [GeneratedPiece] = []
            let result = try await active.run { pieces.append($0) }
            let verdict = await judge(result, tier: tier, policy: policy)
            let keepAlive = request.keepAlive ?? configuration.keepAlive
            if verdict.passed {
                let reason = (reasons + [verdict.text]).joined(separator: "; ")
                RoutingNote.current?.set(model: tier, reason: reason)
                await recordUsage(result, model: tier, route: active.route, started: active.started, decision: "auto: " + reason)
                return active.replay(pieces: pieces, result: result, keepAlive: keepAlive)
            }
            reasons.append(verdict.text)
            if isLast, let remote, let conversation = request.conversation {
                return await remoteAnswer(remote, conversation: conversation, request: request, fallback: active, pieces: pieces,
                                          result: result, reasons: reasons, keepAlive: keepAlive)
            }
            await recordUsage(result, model: tier, route: active.route, started: active.started, decision: "auto: escalated: " + verdict.text)
        }
        throw APIError(.internalServerError, "the router has no tiers")
    }

    /// Whether a tier's answer is kept: confident enough, and passing the policy's checks.
    func judge(_ result: GenerationResult, tier: String, policy: RouterPolicy) async -> (passed: Bool, text: String) {
        let confidence = result.logprobs.isEmpty ? 0 : Double(result.logprobs.reduce(0) { $0 + $1.logprob }) / Double(result.logprobs.count)
        let confident = confidence >= policy.minMeanLogprob
        var text = String(format: "%@: mean token logprob %.3f %@ %.3f", tier, confidence, confident ? ">=" : "<", policy.minMeanLogprob)
        guard confident else { return (false, text) }
        for check in policy.checks {
            if let failure = await check.failure(of: result) {
                text += ", \(check.rawValue) check failed (\(failure))"
                return (false, text)
            }
        }
        if !policy.checks.isEmpty { text += ", passed " + policy.checks.map(\.rawValue).joined(separator: ", ") }
        return (true, text)
    }

    /// The remote tier's answer, replayed to the client like a local one and kept in the ledger
    /// as paid. When the endpoint cannot answer, the last local tier's answer is sent instead
    /// (a request never fails because the remote is down) and the reason says why.
    func remoteAnswer(_ remote: RouterPolicy.RemoteTier, conversation: [Remote.ChatMessage], request: GenerationRequest,
                      fallback: ActiveGeneration, pieces: [GeneratedPiece], result local: GenerationResult,
                      reasons: [String], keepAlive: Duration?) async -> ActiveGeneration {
        let started = ContinuousClock.now
        do {
            var key: String?
            if let variable = remote.apiKeyEnv {
                // A key the policy names but the environment lacks: the endpoint is not asked without it.
                guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                    throw RemoteError("the environment variable \(variable) (router.json's api_key_env) is not set")
                }
                key = value
            }
            let endpoint = try ChatEndpoint(url: remote.url, model: remote.model, apiKey: key, timeout: .seconds(300))
            let options = request.options
            let settings = ChatSettings(temperature: Double(options.sampling.temperature), topP: options.sampling.topP < 1 ? Double(options.sampling.topP) : nil,
                                        stop: options.stop, maxTokens: request.maxTokens)
            let answer = try await endpoint.answer(conversation, settings: settings, client: HTTPClient.shared)
            var result = GenerationResult()
            result.text = answer.text
            result.promptTokens = answer.promptTokens
            result.externalTokenCount = answer.completionTokens
            result.finishReason = answer.finishReason == "length" ? .length : .stop
            result.generationSeconds = ActiveGeneration.seconds(ContinuousClock.now - started)
            let reason = (reasons + ["\(remote.model) at \(endpoint.baseURL): the remote tier"]).joined(separator: "; ")
            RoutingNote.current?.set(model: remote.model, reason: reason)
            await recordUsage(local, model: fallback.instance.name, route: fallback.route, started: fallback.started,
                              decision: "auto: escalated: " + (reasons.last ?? ""))
            await ActiveGeneration.record(LedgerEntry(kind: .remote, route: fallback.route, model: remote.model, promptTokens: answer.promptTokens,
                                                      completionTokens: answer.completionTokens, generationSeconds: result.generationSeconds,
                                                      totalSeconds: ActiveGeneration.seconds(ContinuousClock.now - fallback.started),
                                                      decision: "auto: " + reason),
                                          ledger: ledger, metrics: metrics)
            return fallback.replay(pieces: [GeneratedPiece(text: answer.text, logprobs: [])], result: result, keepAlive: keepAlive,
                                   answeredAs: remote.model, decision: "auto: " + reason)
        } catch {
            logger.warning("router: the remote tier failed: \(error)")
            let tier = fallback.instance.name
            let reason = (reasons + ["remote tier failed (\(error)); \(tier)'s answer sent"]).joined(separator: "; ")
            RoutingNote.current?.set(model: tier, reason: reason)
            await recordUsage(local, model: tier, route: fallback.route, started: fallback.started, decision: "auto: " + reason)
            return fallback.replay(pieces: pieces, result: local, keepAlive: keepAlive)
        }
    }
}
