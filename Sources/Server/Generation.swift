import Engine
import Foundation
import Sampling

/// What a route asks the engine for, after its JSON has been validated.
struct GenerationRequest: Sendable {
    var model: String
    /// nil: the server's default; .some(nil): stay loaded.
    var keepAlive: Duration?? = nil
    var options: GenerationOptions
    /// The client's token limit (nil: as much as the context leaves).
    var maxTokens: Int?
    /// Turns the request into prompt tokens once the model is loaded (chat template or raw).
    var prompt: @Sendable (LoadedModel) throws -> [Int32]
}

/// A generation that holds a model and one of its slots until ``finish()``.
final class ActiveGeneration: Sendable {
    let instance: ModelInstance
    let session: Session
    let promptTokens: Int
    let events: AsyncStream<GenerationEvent>
    let cancellation: CancellationFlag
    let started: ContinuousClock.Instant
    let metrics: ServerMetrics
    private let released = CancellationFlag()

    init(instance: ModelInstance, session: Session, promptTokens: Int, events: AsyncStream<GenerationEvent>,
         cancellation: CancellationFlag, started: ContinuousClock.Instant, metrics: ServerMetrics) {
        self.instance = instance
        self.session = session
        self.promptTokens = promptTokens
        self.events = events
        self.cancellation = cancellation
        self.started = started
        self.metrics = metrics
    }

    /// Consumes the events, calling `onPiece` for each piece of text (throwing there — a client
    /// gone — cancels generation), and returns the result. Always drains the stream and frees
    /// the slot, whatever happens.
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
                    cancellation.cancel()
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
        await finish()
        if let clientError { throw clientError }
        switch outcome {
        case .success(let result): return result
        case .failure(let error): throw APIError(.internalServerError, "generation failed: \(error)")
        case nil: throw APIError(.internalServerError, "generation ended without a result")
        }
    }

    private func finish() async {
        released.cancel()
        await instance.slots.release(session)
        instance.usage.end()
    }

    /// A response dropped before its body ran (the client left first) must still stop the
    /// generation and give the slot back.
    deinit {
        guard !released.isCancelled else { return }
        cancellation.cancel()
        let (events, slots, session, usage) = (events, instance.slots, session, instance.usage)
        Task {
            for await _ in events {}
            await slots.release(session)
            usage.end()
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension HearthServer {
    /// Loads the model, builds and checks the prompt, waits for a slot, and starts generating.
    func startGeneration(_ request: GenerationRequest) async throws -> ActiveGeneration {
        let started = ContinuousClock.now
        let instance = try await models.acquire(request.model, keepAlive: request.keepAlive)
        do {
            let prompt: [Int32]
            do {
                prompt = try request.prompt(instance.loaded)
            } catch let error as APIError {
                throw error
            } catch {
                throw APIError.badRequest("cannot build the prompt: \(error)", parameter: "messages")
            }
            guard !prompt.isEmpty else { throw APIError.badRequest("the prompt is empty", parameter: "prompt") }
            let context = min(configuration.contextLength, instance.loaded.trainedContextLength)
            guard prompt.count < context else {
                throw APIError.badRequest(
                    "the prompt is \(prompt.count) tokens; the context is \(context) tokens and must leave room for an answer",
                    parameter: "messages")
            }
            var options = request.options
            // Clamp to the context left after the prompt.
            options.maxTokens = min(request.maxTokens ?? Int.max, context - prompt.count)
            let session = try await instance.slots.acquire(prompt: prompt)
            let cancellation = CancellationFlag()
            let events = session.generateStream(prompt: prompt, options: options, cancellation: cancellation)
            return ActiveGeneration(
                instance: instance, session: session, promptTokens: prompt.count, events: events,
                cancellation: cancellation, started: started, metrics: metrics)
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
