import Engine
import Foundation
import Ledger
import Store

/// `model: "auto"`: the smallest model that is good enough answers. The policy is a file the user
/// reads and edits, `HEARTH_HOME/router.json`:
///
///     {"tiers": ["qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b"], "min_mean_logprob": -0.3}
///
/// A cascade: each tier but the last answers in full first (unseen by the client); when the mean
/// log-probability of its tokens — how sure the model was of what it wrote — is at least
/// `min_mean_logprob`, that answer is sent; otherwise the next tier answers. The last tier
/// answers live. Without the file the tiers are the installed models, smallest file first, and
/// the threshold is ``RouterPolicy/defaultThreshold``. Every answer names its model (the response's
/// `model`, the `X-Hearth-Model` header) and why (`X-Hearth-Router`, the ledger's `decision`).
public struct RouterPolicy: Codable, Sendable, Equatable {
    public var tiers: [String]
    public var minMeanLogprob: Double

    enum CodingKeys: String, CodingKey {
        case tiers, minMeanLogprob = "min_mean_logprob"
    }

    public init(tiers: [String], minMeanLogprob: Double) {
        self.tiers = tiers
        self.minMeanLogprob = minMeanLogprob
    }

    static let modelName = "auto"
    public static let fileName = "router.json"

    /// Writes the policy to `root/router.json` (atomically), for `hearth eval --write-router`.
    public func write(under root: URL) throws -> URL {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
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
        var reasons: [String] = []
        for (index, tier) in policy.tiers.enumerated() {
            var attempt = request
            attempt.model = tier
            if index == policy.tiers.count - 1 {
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
            let confidence = result.logprobs.isEmpty ? 0 : Double(result.logprobs.reduce(0) { $0 + $1.logprob }) / Double(result.logprobs.count)
            let verdict = String(format: "%@: mean token logprob %.3f %@ %.3f", tier, confidence,
                                 confidence >= policy.minMeanLogprob ? ">=" : "<", policy.minMeanLogprob)
            if confidence >= policy.minMeanLogprob {
                let reason = (reasons + [verdict]).joined(separator: "; ")
                RoutingNote.current?.set(model: tier, reason: reason)
                await recordUsage(result, model: tier, route: active.route, started: active.started, decision: "auto: " + reason)
                return active.replay(pieces: pieces, result: result, keepAlive: request.keepAlive ?? configuration.keepAlive)
            }
            await recordUsage(result, model: tier, route: active.route, started: active.started, decision: "auto: escalated: " + verdict)
            reasons.append(verdict)
        }
        throw APIError(.internalServerError, "the router has no tiers")
    }
}
