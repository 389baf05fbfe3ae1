import JSON
import Engine
import Foundation
import HTTPTypes
import Ledger
import NIOCore
import Remote
import Sampling
import ToolCalls

/// What a route asks the engine for, after its JSON has been validated.
struct GenerationRequest: Sendable {
    var model: String
    /// nil: the server's default; .some(nil): stay loaded.
    var keepAlive: Duration?? = nil
    var options: GenerationOptions
    /// The client's token limit (nil: as much as the context leaves).
    var maxTokens: Int?
    /// Completes when the client's connection closes: the generation is then cancelled.
    var connectionClosed: EventLoopFuture<Void>? = nil
    /// Turns the request into prompt tokens (and any grammar and tool-call parser) once the
    /// model is loaded; runs off the event loop.
    var prepare: @Sendable (LoadedModel) throws -> PreparedPrompt
    /// The context the client asked for (Ollama's `num_ctx`); nil: the server's `--ctx`.
    var contextLength: Int? = nil
    /// Prepares the prompt within a token budget, dropping the conversation's oldest turns (the
    /// system message stays), when the whole conversation does not fit. nil: a prompt that does
    /// not fit is refused (OpenAI's `context_length_exceeded`).
    var fitting: (@Sendable (LoadedModel, _ budget: Int) throws -> PreparedPrompt)? = nil
    /// The conversation as plain chat messages, when the router's remote tier may answer it
    /// (a text chat without tools or a response format); nil: it may not.
    var conversation: [Remote.ChatMessage]? = nil

    init(model: String, keepAlive: Duration?? = nil, options: GenerationOptions, maxTokens: Int?,
         connectionClosed: EventLoopFuture<Void>? = nil, prepare: @escaping @Sendable (LoadedModel) throws -> PreparedPrompt) {
        self.model = model
        self.keepAlive = keepAlive
        self.options = options
        self.maxTokens = maxTokens
        self.connectionClosed = connectionClosed
        self.prepare = prepare
    }

    /// A request whose prompt is only tokens (no grammar, no tools).
    init(model: String, keepAlive: Duration?? = nil, options: GenerationOptions, maxTokens: Int?,
         connectionClosed: EventLoopFuture<Void>? = nil, prompt: @escaping @Sendable (LoadedModel) throws -> [Int32]) {
        self.init(model: model, keepAlive: keepAlive, options: options, maxTokens: maxTokens, connectionClosed: connectionClosed) { loaded in
            PreparedPrompt(tokens: try prompt(loaded))
        }
    }
}

/// A generation queued in a model's scheduler; holds the model loaded until it ends.
final class ActiveGeneration: Sendable {
    let instance: ModelInstance
    let promptTokens: Int
    /// Reads tool calls out of the output, when the request offered tools.
    let toolParser: ToolCallParser?
    let events: AsyncStream<SchedulerEvent>
    let ticket: GenerationTicket
    let started: ContinuousClock.Instant
    let metrics: ServerMetrics
    /// Where the answer is recorded, and the route it came in on.
    let ledger: Ledger?
    let route: String
    /// The model name the response shows: what the request named, or the router's choice.
    let answeredAs: String
    /// Why the router chose this model, for the ledger (nil: not routed).
    let decision: String?
    /// Recorded in the ledger when it ends (the router records its tiers' answers itself).
    let recordsUsage: Bool
    /// An answer already computed and replayed (its tokens were counted when they were computed).
    let isReplay: Bool
    /// Set by the scheduler's first event for this request (nil: events are already there).
    let firstEvent: FirstEvent?
    /// How the model writes its reasoning (harmony, `<think>` blocks; nil: it does not): `run`
    /// hands on only the answer's text as pieces, and the reasoning apart.
    let reasoningSyntax: ReasoningSyntax?
    /// A replayed answer's reasoning (split when it was computed), handed on before its pieces.
    let replayedReasoning: String
    private let released = LockedFlag()

    init(instance: ModelInstance, promptTokens: Int, toolParser: ToolCallParser?, events: AsyncStream<SchedulerEvent>,
         ticket: GenerationTicket, started: ContinuousClock.Instant, metrics: ServerMetrics, ledger: Ledger?,
         answeredAs: String, decision: String? = nil, recordsUsage: Bool = true, isReplay: Bool = false, route: String = RequestRoute.current,
         firstEvent: FirstEvent? = nil, reasoningSyntax: ReasoningSyntax? = nil, replayedReasoning: String = "") {
        self.firstEvent = firstEvent
        self.replayedReasoning = replayedReasoning
        self.reasoningSyntax = reasoningSyntax
        self.ledger = ledger
        self.route = route
        self.answeredAs = answeredAs
        self.decision = decision
        self.recordsUsage = recordsUsage
        self.isReplay = isReplay
        self.instance = instance
        self.promptTokens = promptTokens
        self.toolParser = toolParser
        self.events = events
        self.ticket = ticket
        self.started = started
        self.metrics = metrics
    }

    /// Waits for the scheduler's first event: the first token, or the end. A streaming route
    /// waits here before it sends its 200 and headers, so until then the request can still fail
    /// as a whole: a replica killed while the request waits in its queue or computes its prompt
    /// closes the connection without an answer, which a balancer retries on another replica
    /// (nginx's `proxy_next_upstream`), where a started stream could only be cut off.
    func waitUntilStarted() async {
        await firstEvent?.wait()
    }

    /// Consumes the events, calling `onPiece` for each piece of the answer's text and
    /// `onReasoning` for each piece of the reasoning split from it (throwing in
    /// either — a client gone — cancels the generation, which frees its slot before the next
    /// step), and returns the result, its reasoning apart.
    func run(onReasoning: (String) async throws -> Void = { _ in },
             onPiece: (GeneratedPiece) async throws -> Void) async throws -> GenerationResult {
        var outcome: Result<GenerationResult, any Error>?
        var clientError: (any Error)?
        var sawFirst = false
        // A replay's pieces and result were split when they were computed.
        var channels = isReplay ? nil : reasoningSyntax?.makeSplitter()
        var reasoning = "", content = ""
        if !replayedReasoning.isEmpty {
            do {
                try await onReasoning(replayedReasoning)
            } catch {
                clientError = error
            }
        }
        for await event in events {
            switch event {
            case .piece(var piece):
                if !sawFirst && !isReplay {
                    sawFirst = true
                    metrics.recordTimeToFirstToken(Self.seconds(ContinuousClock.now - started))
                }
                if channels != nil {
                    let split = channels!.feed(piece.text)
                    reasoning += split.reasoning
                    content += split.content
                    piece.text = split.content
                    if !split.reasoning.isEmpty, clientError == nil {
                        do {
                            try await onReasoning(split.reasoning)
                        } catch {
                            clientError = error
                            ticket.cancel()
                        }
                    }
                    // Reasoning and held markers never reach a route as answer text (token
                    // log-probabilities still go on).
                    if piece.text.isEmpty && piece.logprobs.isEmpty { continue }
                }
                guard clientError == nil else { continue }
                do {
                    try await onPiece(piece)
                } catch {
                    clientError = error
                    ticket.cancel()
                }
            case .finished(var result):
                if channels != nil {
                    let rest = channels!.finish()
                    reasoning += rest.reasoning
                    content += rest.content
                    if clientError == nil {
                        do {
                            if !rest.reasoning.isEmpty { try await onReasoning(rest.reasoning) }
                            if !rest.content.isEmpty { try await onPiece(GeneratedPiece(text: rest.content)) }
                        } catch {
                            clientError = error
                        }
                    }
                    result.text = content
                    result.reasoning = reasoning
                }
                outcome = .success(result)
                if isReplay { continue }
                metrics.recordGeneration(
                    model: instance.name, promptTokens: result.promptTokens, computedPromptTokens: result.promptTokens - result.reusedPromptTokens,
                    promptSeconds: result.promptSeconds, generatedTokens: result.completionTokenCount,
                    generationSeconds: result.generationSeconds)
                if let speculation = result.speculation {
                    metrics.recordSpeculation(proposed: speculation.proposed, accepted: speculation.accepted)
                }
            case .failed(let error):
                outcome = .failure(error)
            }
        }
        release()
        if let clientError { throw clientError }
        switch outcome {
        case .success(let result):
            // Recorded before the caller sends the answer's end: whatever a client was answered is
            // in the ledger, even if the server is killed right after.
            if recordsUsage {
                await Self.record(result, model: instance.name, route: route, started: started, decision: decision,
                                  ledger: ledger, metrics: metrics)
            }
            return result
        case .failure(let error): throw APIError(.internalServerError, "generation failed: \(error)")
        case nil: throw APIError(.internalServerError, "generation ended without a result")
        }
    }

    /// A finished answer (computed and now replayed to the client): the same instance, held again
    /// until the replay ends.
    func replay(pieces: [GeneratedPiece], result: GenerationResult, keepAlive: Duration?,
                answeredAs: String? = nil, decision: String? = nil) -> ActiveGeneration {
        let (events, continuation) = AsyncStream<SchedulerEvent>.makeStream(bufferingPolicy: .unbounded)
        for piece in pieces { continuation.yield(.piece(piece)) }
        continuation.yield(.finished(result))
        continuation.finish()
        instance.usage.begin(keepAlive: keepAlive)
        return ActiveGeneration(instance: instance, promptTokens: promptTokens, toolParser: toolParser, events: events, ticket: ticket,
                                started: started, metrics: metrics, ledger: ledger, answeredAs: answeredAs ?? self.answeredAs,
                                decision: decision ?? self.decision, recordsUsage: false, isReplay: true, route: route,
                                replayedReasoning: result.reasoning)
    }

    static func record(_ result: GenerationResult, model: String, route: String, started: ContinuousClock.Instant, decision: String?,
                       ledger: Ledger?, metrics: ServerMetrics) async {
        let entry = LedgerEntry(route: route, model: model, promptTokens: result.promptTokens,
                                completionTokens: result.completionTokenCount, cachedTokens: result.reusedPromptTokens,
                                promptSeconds: result.promptSeconds, generationSeconds: result.generationSeconds,
                                totalSeconds: Self.seconds(ContinuousClock.now - started), decision: decision)
        await record(entry, ledger: ledger, metrics: metrics)
    }

    /// Writes `entry` to the ledger and counts its price in the metrics (saved, or paid for a
    /// remote answer).
    static func record(_ entry: LedgerEntry, ledger: Ledger?, metrics: ServerMetrics) async {
        guard let ledger else { return }
        let pricing = ledger.pricing(of: entry)
        if let cloud = pricing.cloudModel {
            if entry.kind == .remote {
                metrics.recordPaidCost(model: cloud, usd: pricing.paidUSD)
            } else {
                metrics.recordCloudCost(cloudModel: cloud, usd: pricing.savedUSD)
            }
        }
        await ledger.record(entry)
    }

    private func release() {
        guard !released.isSet else { return }
        released.set()
        instance.usage.end()
    }

    /// A response dropped before its body ran (the client left first) still stops the
    /// generation and lets the model unload.
    deinit {
        if !released.isSet {
            ticket.cancel()
            instance.usage.end()
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension HearthServer {
    /// Loads the model, builds and checks the prompt, and queues the generation (503 when the
    /// queue is full).
    /// `answeredAs`, `decision` and `records` are the router's (``startRoutedGeneration(_:)``);
    /// a request for `auto` goes there.
    func startGeneration(_ request: GenerationRequest, answeredAs: String? = nil, records: Bool = true,
                         decision: String? = nil) async throws -> ActiveGeneration {
        if answeredAs == nil, request.model == RouterPolicy.modelName {
            return try await startRoutedGeneration(request)
        }
        let started = ContinuousClock.now
        let instance = try await models.acquire(request.model, keepAlive: request.keepAlive, contextLength: request.contextLength)
        do {
            let context = instance.scheduler.contextLength
            // Room kept for the answer when old turns are dropped: what the client asked for, at
            // most a quarter of the context.
            let room = min(max(request.maxTokens ?? context / 4, 1), context / 4)
            let prepared: PreparedPrompt
            do {
                let loaded = instance.loaded
                prepared = try await offload {
                    let vocabularySize = loaded.tokenizer.vocabularySize
                    if let bad = request.options.sampling.logitBias.keys.first(where: { Int($0) >= vocabularySize }) {
                        throw APIError.invalidField("logit_bias", "token id \(bad) is not in the model's vocabulary of \(vocabularySize) tokens")
                    }
                    var prepared = try request.prepare(loaded)
                    if prepared.tokens.count + room > context, let fitting = request.fitting {
                        prepared = try fitting(loaded, context - room)
                    }
                    // The vocabulary's byte table is built once per model, here rather than on the
                    // scheduler's thread where it would hold up every sequence's next step.
                    if prepared.constraint != nil { _ = loaded.tokenVocabulary }
                    return prepared
                }
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.badRequest("cannot build the prompt: \(error)", parameter: "messages")
            }
            let prompt = prepared.tokens
            guard !prompt.isEmpty else { throw APIError.badRequest("the prompt is empty", parameter: "prompt") }
            guard prompt.count < context else {
                throw APIError.contextLengthExceeded(context: context, promptTokens: prompt.count)
            }
            var options = request.options
            options.constraint = prepared.constraint
            // Prompt lookup for models without a draft: where a draft was chosen, it proposes.
            options.speculation = instance.draft == nil ? configuration.speculation : nil
            // Clamp to the context left after the prompt.
            options.maxTokens = min(request.maxTokens ?? Int.max, context - prompt.count)
            let (events, continuation) = AsyncStream<SchedulerEvent>.makeStream(bufferingPolicy: .unbounded)
            let ticket: GenerationTicket
            let firstEvent = FirstEvent()
            do {
                ticket = try instance.scheduler.submit(prompt: prompt, options: options) { event in
                    continuation.yield(event)
                    firstEvent.signal()
                    switch event {
                    case .finished, .failed: continuation.finish()
                    case .piece: break
                    }
                    return true
                }
            } catch let error as SchedulerError {
                var apiError = APIError(.serviceUnavailable, error.description)
                apiError.headers[.retryAfter] = "1"
                throw apiError
            } catch {
                throw APIError.badRequest("\(error)", parameter: "messages")
            }
            request.connectionClosed?.whenComplete { _ in ticket.cancel() }
            return ActiveGeneration(instance: instance, promptTokens: prompt.count, toolParser: prepared.toolParser, events: events, ticket: ticket,
                                    started: started, metrics: metrics, ledger: ledger, answeredAs: answeredAs ?? request.model,
                                    decision: decision, recordsUsage: records, firstEvent: firstEvent, reasoningSyntax: prepared.reasoningSyntax)
        } catch {
            instance.usage.end()
            throw error
        }
    }

    /// Computes embeddings of `inputs` on a worker thread, one input after another (a batch of
    /// any size holds one input's activations at a time). `truncate` cuts inputs longer than
    /// the context (Ollama's default); otherwise they are refused, naming the input.
    func embeddings(model: String, inputs: [EmbeddingInput], keepAlive: Duration?? = nil, truncate: Bool = false,
                    contextLength: Int? = nil) async throws -> (vectors: [[Float]], tokens: Int) {
        let started = ContinuousClock.now
        if let encoder = try await models.acquireEmbeddingModel(model, keepAlive: keepAlive) {
            defer { encoder.usage.end() }
            guard encoder.model.embeds else {
                throw APIError(.badRequest, "'\(model)' is a reranker (its pooling is rank): it scores query–document pairs at /v1/rerank "
                               + "and makes no embeddings", parameter: "model", code: "model_not_supported")
            }
            return try await encoderEmbeddings(encoder, inputs: inputs, truncate: truncate, started: started)
        }
        let instance = try await models.acquire(model, keepAlive: keepAlive, contextLength: contextLength)
        defer { instance.usage.end() }
        let computing = ContinuousClock.now
        let context = max(contextLength ?? 0, instance.scheduler.contextLength)
        let loaded = instance.loaded
        let outcome: Result<([[Float]], Int), any Error> = await withCheckedContinuation { continuation in
            let thread = Thread {
                var vectors: [[Float]] = []
                var tokens = 0
                for (index, input) in inputs.enumerated() {
                    do {
                        let (vector, count) = switch input {
                        case .text(let text): try loaded.embedding(of: text, maximumTokens: context, truncate: truncate)
                        case .tokens(let ids): try loaded.embedding(ofTokens: ids, maximumTokens: context, truncate: truncate)
                        }
                        vectors.append(vector)
                        tokens += count
                    } catch let error as EngineError {
                        let field = inputs.count == 1 ? "input" : "input[\(index)]"
                        let apiError = if case .promptTooLong(let count, let limit) = error {
                            APIError(.badRequest, "\(field) is \(count) tokens, more than the context of \(limit) tokens",
                                     parameter: field, code: "context_length_exceeded")
                        } else {
                            APIError.invalidField(field, "cannot embed it: \(error)")
                        }
                        continuation.resume(returning: .failure(apiError))
                        return
                    } catch {
                        continuation.resume(returning: .failure(APIError(.internalServerError, "embedding failed: \(error)")))
                        return
                    }
                }
                continuation.resume(returning: .success((vectors, tokens)))
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        let (vectors, tokens) = try outcome.get()
        await recordEmbedding(model: instance.name, tokens: tokens, started: started, computing: computing)
        return (vectors, tokens)
    }

    /// Records an answered embedding request (chat model's mean hidden state or an encoder's
    /// pooling alike) in the ledger and the metrics.
    func recordEmbedding(model: String, tokens: Int, started: ContinuousClock.Instant, computing: ContinuousClock.Instant) async {
        let end = ContinuousClock.now
        await ActiveGeneration.record(LedgerEntry(kind: .embedding, route: RequestRoute.current, model: model, promptTokens: tokens,
                                                  completionTokens: 0, promptSeconds: ActiveGeneration.seconds(end - computing),
                                                  totalSeconds: ActiveGeneration.seconds(end - started)),
                                      ledger: ledger, metrics: metrics)
    }
}

/// One input to embed: text, or token ids of the model's own vocabulary (as llama-server takes them).
enum EmbeddingInput: Sendable {
    case text(String)
    case tokens([Int32])

    /// `input` as the OpenAI and Ollama routes take it: a string, a list of strings, a list of
    /// token ids, or a list of lists of token ids. An empty string embeds nothing (refused).
    static func parse(_ value: JSONValue?, field: String = "input") throws(APIError) -> [EmbeddingInput] {
        func tokens(_ items: [JSONValue], path: String) throws(APIError) -> [Int32] {
            try items.enumerated().map { index, item throws(APIError) -> Int32 in
                guard case .int(let id) = item, id >= 0, id <= Int(Int32.max) else {
                    throw APIError.invalidField("\(path)[\(index)]", "expected a token id (a whole number ≥ 0), got \(item.serialized)")
                }
                return Int32(id)
            }
        }
        switch value {
        case .string(let text)?: return [.text(text)]
        case .array(let items)?:
            guard !items.isEmpty else { throw APIError.invalidField(field, "must not be empty") }
            if case .int = items[0] { return [.tokens(try tokens(items, path: field))] }
            return try items.enumerated().map { index, item throws(APIError) -> EmbeddingInput in
                switch item {
                case .string(let text): return .text(text)
                case .array(let ids): return .tokens(try tokens(ids, path: "\(field)[\(index)]"))
                default:
                    throw APIError.invalidField("\(field)[\(index)]", "expected a string or a list of token ids, got \(item.typeName)")
                }
            }
        case nil: throw APIError.invalidField(field, "is required")
        case let other?: throw APIError.invalidField(field, "expected a string, a list of strings or token ids, got \(other.typeName)")
        }
    }
}

extension SamplingParameters {
    /// Validated parameters, or a 400 naming the field.
    func checked() throws(APIError) -> SamplingParameters {
        do {
            try validate()
        } catch {
            throw APIError.invalidField(error.field, error.reason)
        }
        return self
    }
}

/// Something that happens once, which tasks wait for: a generation's first event.
final class FirstEvent: @unchecked Sendable {
    private let lock = NSLock()
    private var happened = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func signal() {
        let waiting: [CheckedContinuation<Void, Never>] = lock.withLock {
            guard !happened else { return [] }
            happened = true
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock {
                if happened { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// The route of the request being handled (set by `ErrorMiddleware`), for the ledger.
enum RequestRoute {
    @TaskLocal static var current = "other"
}

extension HearthServer {
    func recordUsage(_ result: GenerationResult, model: String, route: String, started: ContinuousClock.Instant, decision: String?) async {
        await ActiveGeneration.record(result, model: model, route: route, started: started, decision: decision, ledger: ledger, metrics: metrics)
    }
}
