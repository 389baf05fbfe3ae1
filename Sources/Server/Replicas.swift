import Crypto
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import JSON
import Logging
import NIOCore
import ServiceLifecycle

/// What a load balancer in front of many `hearth serve` replicas needs from each: a name to
/// tell them apart, and whether this one takes new traffic. Hearth holds no cluster state:
/// every replica is alone, and the balancer (nginx, a Kubernetes Service, the Gateway API
/// Inference Extension) decides where a request goes from these signals.
final class ReplicaState: Sendable {
    /// `--replica-name`, sent back on every response as `X-Hearth-Replica`.
    let name: String
    private let draining = LockedFlag()

    init(name: String) {
        self.name = name
    }

    /// After SIGTERM: `/health` says 503, responses ask clients to close their connections.
    var isDraining: Bool { draining.isSet }
    func startDraining() { draining.set() }

    static let replicaField = HTTPField.Name("X-Hearth-Replica")!
    static let affinityField = HTTPField.Name("X-Hearth-Affinity")!
}

/// The routing key of a conversation, which a balancer hashes on so that every turn of one
/// conversation reaches the replica whose KV cache (a slot's, or the prefix cache) already holds
/// its beginning: `hash $http_x_hearth_affinity consistent;` in nginx.
///
/// The rule, for clients and balancers to apply themselves: the first 16 hexadecimal digits
/// (lower case) of the SHA-256 of the UTF-8 text of the conversation's first `user` message.
/// A message's text is its `content` when that is a string, else the `text` of its parts that
/// have one, joined by a line feed. Every turn of a chat starts with the same first user
/// message, so every turn gets the same key; conversations that differ there spread over the
/// replicas. A client that has its own conversation id sends that instead, as the header.
///
/// ```python
/// key = hashlib.sha256(first_user_text.encode()).hexdigest()[:16]
/// ```
///
/// Hearth answers chat requests with the key in `X-Hearth-Affinity` (the client's own when it
/// sent one), so a client can take it from the first answer and send it with the next turns.
enum ConversationAffinity {
    /// The key of a chat request's body (OpenAI's, Ollama's and Anthropic's `messages`), or nil
    /// when it has no user message with text.
    static func key(of body: JSONValue) -> String? {
        guard case .object(let fields) = body, case .array(let messages)? = fields["messages"] else { return nil }
        for message in messages {
            guard case .object(let message) = message, message["role"] == .string("user") else { continue }
            guard let text = text(of: message["content"]) else { return nil }
            return key(ofText: text)
        }
        return nil
    }

    static func key(ofText text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    private static func text(of content: JSONValue?) -> String? {
        switch content {
        case .string(let text)?: return text
        case .array(let parts)?:
            let texts = parts.compactMap { part -> String? in
                guard case .object(let part) = part, case .string(let text)? = part["text"] else { return nil }
                return text
            }
            return texts.isEmpty ? nil : texts.joined(separator: "\n")
        default: return nil
        }
    }

    /// A key a client sent: what a balancer hashes on, so anything printable and short.
    static func isValidClientKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 128 && key.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }
    }
}

/// The key of the request being handled, noted where its body is parsed (``HearthServer/json(_:)``)
/// and sent back by ``ReplicaMiddleware``.
final class AffinityNote: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?

    func set(_ key: String) { lock.withLock { value = key } }
    var key: String? { lock.withLock { value } }

    @TaskLocal static var current: AffinityNote?
}

/// Names the replica on every response, errors included, and sends the conversation's routing
/// key back. While draining, asks clients to close their connection after the answer, so a
/// client or balancer holding connections open reconnects to a replica that takes traffic.
struct ReplicaMiddleware<Context: RequestContext>: RouterMiddleware {
    let replica: ReplicaState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let note = AffinityNote()
        if let sent = request.headers[ReplicaState.affinityField], ConversationAffinity.isValidClientKey(sent) { note.set(sent) }
        var response = try await AffinityNote.$current.withValue(note) { try await next(request, context) }
        response.headers[ReplicaState.replicaField] = replica.name
        if let key = note.key { response.headers[ReplicaState.affinityField] = key }
        if replica.isDraining { response.headers[.connection] = "close" }
        return response
    }
}

/// Runs first when SIGTERM or SIGINT arrives (the service group stops its services in reverse
/// order, and this one is last): `/health` turns 503 at once, the listener stays open for
/// `delay` so that balancers probing readiness stop sending traffic before connections are
/// refused, and only then does the HTTP server stop accepting and finish what is in flight.
struct DrainGate: Service {
    let replica: ReplicaState
    let delay: Duration
    let logger: Logger

    func run() async throws {
        // Returns when the group shuts down gracefully; throws when it is cancelled instead.
        do { try await gracefulShutdown() } catch { return }
        replica.startDraining()
        logger.notice("draining: /health reports 503 now; closing the listener in \(delay), then finishing the requests in flight")
        try? await Task.sleep(for: delay)
    }
}

extension HearthServer {
    /// What `/health` and `/metrics` report of each loaded model (never waiting for a load).
    func modelGauges() -> [ServerMetrics.ModelGauge] {
        var gauges: [ServerMetrics.ModelGauge] = []
        for instance in models.loadedNow {
            let load = instance.scheduler.load
            let occupancy = instance.scheduler.occupancy
            gauges.append(.init(name: instance.name, bytes: instance.fileSize + Int64(instance.cacheBytes),
                                busySlots: load.busy, queueDepth: load.waiting, slots: instance.scheduler.configuration.slots,
                                heldTokens: occupancy.heldTokens, capacityTokens: occupancy.capacityTokens))
        }
        return gauges
    }

    /// Readiness: not after SIGTERM, and not while every loaded model's slots and queue are
    /// taken (a new request would get 503). A replica with no model loaded is ready: models
    /// load on first use.
    func readiness(_ gauges: [ServerMetrics.ModelGauge]) -> (ready: Bool, status: String) {
        if replica.isDraining { return (false, "draining") }
        let saturated = !gauges.isEmpty && gauges.allSatisfy { $0.busySlots >= $0.slots && $0.queueDepth >= configuration.maxQueue }
        return saturated ? (false, "saturated") : (true, "ok")
    }

    /// `/health` (and `/health/ready`): 200 when this replica takes new requests, 503 when it
    /// does not (draining or saturated), for readiness probes and balancers' health checks.
    /// `/health/live`: 200 while the process serves HTTP at all, draining included, for
    /// liveness probes (restarting a replica that is merely busy would lose its work).
    /// Neither needs the API key, so neither names models: only counts.
    func addHealthRoutes(to router: Router<HearthRequestContext>) {
        let ready: @Sendable (Request, HearthRequestContext) async throws -> Response = { [self] _, _ in
            let gauges = modelGauges()
            let (isReady, status) = readiness(gauges)
            var response = Reply.json(.object([
                "status": .string(status), "live": true, "ready": .bool(isReady), "replica": .string(replica.name),
                "models_loaded": .int(gauges.count), "slots": .int(gauges.reduce(0) { $0 + $1.slots }),
                "running": .int(gauges.reduce(0) { $0 + $1.busySlots }), "waiting": .int(gauges.reduce(0) { $0 + $1.queueDepth }),
            ]), status: isReady ? .ok : .serviceUnavailable)
            if !isReady { response.headers[.retryAfter] = "1" }
            return response
        }
        router.get("/health", use: ready)
        router.get("/health/ready", use: ready)
        router.get("/health/live") { [self] _, _ in
            Reply.json(.object(["status": .string(replica.isDraining ? "draining" : "ok"), "live": true, "replica": .string(replica.name)]))
        }
    }

    /// Serves `application` until SIGTERM or SIGINT, then drains (``DrainGate``) and returns
    /// once the requests in flight have finished.
    public func run(_ application: some ApplicationProtocol) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [application, DrainGate(replica: replica, delay: configuration.drainDelay, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
