import JSON
import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Ledger
import Logging
import ServiceLifecycle
import NIOCore
import Store

/// `hearth serve`: the OpenAI- and Ollama-compatible HTTP API over the engine.
///
/// ```swift
/// let server = HearthServer(configuration: configuration, store: store)
/// try await server.run(server.application())   // SIGTERM/SIGINT drain in-flight requests
/// ```
public final class HearthServer: Sendable {
    public static let version = "0.1.0"
    /// The Ollama API version whose routes and fields Hearth serves (what `/api/version` says).
    public static let ollamaAPIVersion = "0.13.0"
    let configuration: ServerConfiguration
    let store: ModelStore
    let models: ModelManager
    let metrics = ServerMetrics()
    /// Notices (and, at `--log-level debug`, what requests sent that Hearth accepted and ignored).
    let logger: Logger
    /// Responses kept for `previous_response_id` (see ResponseStore).
    let storedResponses = ResponseStore()
    /// Where every answered request is recorded (nil with `--no-ledger`).
    let ledger: Ledger?
    /// This replica's name and whether it is draining (see Replicas.swift).
    let replica: ReplicaState

    public init(configuration: ServerConfiguration, store: ModelStore) {
        self.configuration = configuration
        self.store = store
        self.models = ModelManager(store: store, configuration: configuration)
        var logger = Logger(label: "hearth.serve")
        logger.logLevel = configuration.logLevel
        self.logger = logger
        replica = ReplicaState(name: configuration.replicaName)
        ledger = configuration.recordsUsage ? Ledger(directory: store.root) { [logger] message in logger.error("\(message)") } : nil
    }

    /// The router with every route and the security middleware, for tests and for serving.
    public func router() -> Router<HearthRequestContext> {
        let router = Router(context: HearthRequestContext.self)
        router.addMiddleware {
            ReplicaMiddleware(replica: replica)
            ErrorMiddleware(metrics: metrics)
            SecurityMiddleware(configuration: configuration)
        }
        addHealthRoutes(to: router)
        // `/` (Ollama's probe, or a browser sent on to the page) and the chat page's files.
        addChatPageRoutes(to: router)
        router.get("/metrics") { [self] _, _ in
            let gauges = modelGauges()
            let state = ServerMetrics.ReplicaGauge(name: replica.name, ready: readiness(gauges).ready, draining: replica.isDraining)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.render(models: gauges, replica: state))))
        }
        addOpenAIRoutes(to: router)
        addOllamaRoutes(to: router)
        addResponsesRoutes(to: router)
        addAnthropicRoutes(to: router)
        addBlobRoutes(to: router)
        addRerankRoutes(to: router)
        router.get("/api/usage") { [self] request, _ in try await usage(request) }
        return router
    }

    /// The application: binds, serves, unloads idle models, drains on SIGTERM.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws
        -> some ApplicationProtocol
    {
        for name in configuration.preload {
            if let embedding = try await models.acquireEmbeddingModel(name) {
                embedding.usage.end()
                continue
            }
            _ = try await models.acquire(name)
            await models.instances[name]?.usage.end()
        }
        return Application(
            router: router(),
            server: .guardedHTTP1(
                configuration: .init(additionalChannelHandlers: [HalfCloseHandler()], idleTimeout: configuration.idleTimeout.map(Self.timeAmount)),
                connections: ConnectionCounter(maximumTotal: configuration.maxConnections, maximumPerClient: configuration.maxConnectionsPerClient),
                headerTimeout: configuration.headerTimeout.map(Self.timeAmount)),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Hearth"),
            services: [IdleUnloader(models: models)],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Reads a request body as JSON, within the size and nesting limits. A chat's routing key
    /// (``ConversationAffinity``) is noted here, where every chat route's body passes, unless
    /// the client sent its own.
    func json(_ request: Request) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the request body is empty; expected a JSON object") }
        let depth = configuration.maxJSONDepth
        let affinity = AffinityNote.current.flatMap { $0.key == nil ? $0 : nil }
        let parse: @Sendable () throws -> JSONValue = {
            do {
                let value = try JSONParser.parse(buffer.readableBytesView, maximumDepth: depth)
                if let affinity, let key = ConversationAffinity.key(of: value) { affinity.set(key) }
                return value
            } catch let error as JSONParseError {
                throw APIError.badRequest(error.description)
            }
        }
        // A small body parses in microseconds; a large one goes where it cannot stall the server.
        return buffer.readableBytes <= Self.inlineJSONBytes ? try parse() : try await offload(parse)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Bodies up to this size are parsed where they arrive.
    static let inlineJSONBytes = 64 * 1024
}

/// The request context: Hummingbird's basics plus the connection, whose closing cancels the
/// request's generation at once — even while it waits in the queue or computes its prompt.
public struct HearthRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Completes when the client's connection closes.
    let connectionClosed: EventLoopFuture<Void>

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connectionClosed = source.channel.closeFuture
    }
}

/// Unloads models past their keep-alive, once a second.
struct IdleUnloader: Service {
    let models: ModelManager
    func run() async throws {
        // Ends on graceful shutdown (SIGTERM) as well as on cancellation.
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            // A model unloaded a tick ago has freed its caches by now (its scheduler thread ends
            // as soon as it is idle): hand the allocator's free pages back.
            if await models.takeUnloaded() { FreedMemory.returnToSystem() }
            await models.unloadIdle()
        }
    }
}

/// glibc keeps the memory a program frees in its heaps for reuse. A model's KV caches and
/// scratch buffers are tens to hundreds of megabytes, freed all at once on unload; without
/// `malloc_trim` the process stays that large. (`malloc_trim` is looked up at run time: Swift's
/// Glibc module does not declare it, and other C libraries lack it.)
enum FreedMemory {
    #if os(Linux)
    private typealias Trim = @convention(c) (Int) -> Int32
    private static let trim: Trim? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()
    #endif

    static func returnToSystem() {
        #if os(Linux)
        _ = trim?(0)
        #endif
    }
}

/// Builds JSON, NDJSON and server-sent-event responses.
enum Reply {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    /// A streamed body: `produce` writes lines through `send`; a failed write means the
    /// client is gone and is rethrown so the producer stops. Any other failure, once the 200 and
    /// the first lines are out, is told in-band before the stream closes — `errorEvent` writes
    /// it (by default OpenAI's `data: {"error": …}` for server-sent events, Ollama's
    /// `{"error": "…"}` line for NDJSON) — so a client never mistakes a cut-off answer for a
    /// whole one.
    static func stream(
        contentType: String,
        errorEvent: (@Sendable (APIError) -> String)? = nil,
        produce: @escaping @Sendable (_ send: (String) async throws -> Void) async throws -> Void
    ) -> Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache"]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let errorEvent = errorEvent ?? { error in
            contentType == "text/event-stream"
                ? "data: \(error.openAIBody.serialized)\n\n"
                : error.ollamaBody.serialized + "\n"
        }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var clientGone = false
            do {
                try await produce { text in
                    do {
                        try await writer.write(ByteBuffer(string: text))
                    } catch {
                        clientGone = true
                        throw error
                    }
                }
            } catch {
                if clientGone || error is CancellationError { throw error }
                try await writer.write(ByteBuffer(string: errorEvent(ErrorMiddleware<HearthRequestContext>.apiError(error))))
            }
            try await writer.finish(nil)
        })
    }
}
