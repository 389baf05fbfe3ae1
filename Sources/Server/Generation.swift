import JSON
import Engine
import Foundation
import HTTPTypes
import NIOCore
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
    private let released = LockedFlag()

    init(instance: ModelInstance, promptTokens: Int, toolParser: ToolCallParser?, events: AsyncStream<SchedulerEvent>,
         ticket: GenerationTicket, started: ContinuousClock.Instant, metrics: ServerMetrics) {
        self.instance = instance
        self.promptTokens = promptTokens
        self.toolParser = toolParser
        self.events = events
        self.ticket = ticket
        self.started = started
        self.metrics = metrics
    }

    /// Consumes the events, calling `onPiece` for each piece of text (throwing there — a client
    /// gone — cancels the generation, which frees its slot before the next step), and returns
    /// the result.
    func run(onPiece: (GeneratedPiece) async throws -> Void) async throws -> GenerationResult {
        var outcome: Result<GenerationResult, any Error>?
        var clientError: (any Error)?
        var sawFirst = false
        for await event in events {
            switch event {
            case .piece(let piece):
                if !sawFirst {
                    sawFirst = true
                    metrics.recordTimeToFirstToken(Self.seconds(ContinuousClock.now - started))
                }
                guard clientError == nil else { continue }
                do {
                    try await onPiece(piece)
                } catch {
                    clientError = error
                    ticket.cancel()
                }
            case .finished(let result):
                outcome = .success(result)
                metrics.recordGeneration(
                    promptTokens: result.promptTokens, computedPromptTokens: result.promptTokens - result.reusedPromptTokens,
                    promptSeconds: result.promptSeconds, generatedTokens: result.tokens.count,
                    generationSeconds: result.generationSeconds)
            case .failed(let error):
                outcome = .failure(error)
            }
        }
        release()
        if let clientError { throw clientError }
        switch outcome {
        case .success(let result): return result
        case .failure(let error): throw APIError(.internalServerError, "generation failed: \(error)")
        case nil: throw APIError(.internalServerError, "generation ended without a result")
        }
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
    func startGeneration(_ request: GenerationRequest) async throws -> ActiveGeneration {
        let started = ContinuousClock.now
        let instance = try await models.acquire(request.model, keepAlive: request.keepAlive)
        do {
            let prepared: PreparedPrompt
            do {
                let loaded = instance.loaded
                prepared = try await offload {
                    let prepared = try request.prepare(loaded)
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
            let context = instance.scheduler.contextLength
            guard prompt.count < context else {
                throw APIError.badRequest(
                    "the prompt is \(prompt.count) tokens; the context is \(context) tokens and must leave room for an answer",
                    parameter: "messages")
            }
            var options = request.options
            options.constraint = prepared.constraint
            // Clamp to the context left after the prompt.
            options.maxTokens = min(request.maxTokens ?? Int.max, context - prompt.count)
            let (events, continuation) = AsyncStream<SchedulerEvent>.makeStream(bufferingPolicy: .unbounded)
            let ticket: GenerationTicket
            do {
                ticket = try instance.scheduler.submit(prompt: prompt, options: options) { event in
                    continuation.yield(event)
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
                                    started: started, metrics: metrics)
        } catch {
            instance.usage.end()
            throw error
        }
    }

    /// Computes embeddings of `inputs` on a worker thread.
    func embeddings(model: String, inputs: [String], keepAlive: Duration?? = nil) async throws
        -> (vectors: [[Float]], tokens: Int)
    {
        let instance = try await models.acquire(model, keepAlive: keepAlive)
        defer { instance.usage.end() }
        let context = configuration.contextLength
        let loaded = instance.loaded
        let outcome: Result<([[Float]], Int), any Error> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do {
                    var vectors: [[Float]] = []
                    var tokens = 0
                    for input in inputs {
                        let (vector, count) = try loaded.embedding(of: input, maximumTokens: context)
                        vectors.append(vector)
                        tokens += count
                    }
                    continuation.resume(returning: .success((vectors, tokens)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        switch outcome {
        case .success(let value): return value
        case .failure(let error as EngineError): throw APIError.badRequest("cannot embed the input: \(error)", parameter: "input")
        case .failure(let error): throw APIError(.internalServerError, "embedding failed: \(error)")
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
