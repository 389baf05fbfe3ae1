import Engine
import Foundation
import GGUF
import HTTPTypes
import Ledger
import Store

/// An embedding model (BERT, nomic-bert) in memory: no slots and no KV caches, one pass per input.
/// Kept beside the chat models' instances, with the same keep-alive clock.
final class EmbeddingInstance: Sendable {
    let name: String
    let model: EmbeddingModel
    let fileSize: Int64
    let loadedAt = Date()
    let usage = UsageClock()

    init(name: String, model: EmbeddingModel, fileSize: Int64) {
        self.name = name
        self.model = model
        self.fileSize = fileSize
    }
}

extension ModelManager {
    /// Whether an installed model is an embedding model (an encoder architecture); remembered
    /// per file so a request reads the header once.
    func isEmbeddingModel(_ installed: InstalledModel) -> Bool {
        let key = "\(installed.path)#\(installed.sha256)"
        if let known = embeddingModelFiles[key] { return known }
        let isEncoder = (try? GGUFFile(path: installed.path)).map(EmbeddingModel.isEmbeddingModel) ?? false
        embeddingModelFiles[key] = isEncoder
        return isEncoder
    }

    /// The loaded embedding model `requested` names, loading it on first use; nil when that
    /// model is a chat model (the caller embeds with the chat model's mean hidden state instead).
    func acquireEmbeddingModel(_ requested: String, keepAlive: Duration?? = nil) throws(APIError) -> EmbeddingInstance? {
        let installed = try installedModel(requested)
        guard isEmbeddingModel(installed) else { return nil }
        let keep = keepAlive ?? configuration.keepAlive
        if let instance = embeddingInstances[installed.name] {
            instance.usage.begin(keepAlive: keep)
            return instance
        }
        do {
            try configuration.admitModel(installed.path, 0)
        } catch {
            unloadIdle(force: true)
            do {
                try configuration.admitModel(installed.path, 0)
            } catch {
                throw APIError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"),
                               "model '\(installed.name)' does not fit in memory: \(error)")
            }
        }
        let model: EmbeddingModel
        do {
            model = try EmbeddingModel(path: installed.path, threads: configuration.threads)
        } catch {
            throw APIError(.internalServerError, "model '\(installed.name)' failed to load: \(error)")
        }
        let instance = EmbeddingInstance(name: installed.name, model: model, fileSize: installed.size)
        embeddingInstances[installed.name] = instance
        instance.usage.begin(keepAlive: keep)
        return instance
    }

    /// Refuses text generation on an embedding model, in Ollama's words
    /// (`"all-minilm" does not support chat`, status 400).
    func refuseGeneration(on installed: InstalledModel, requested: String) throws(APIError) {
        guard isEmbeddingModel(installed) else { return }
        let route = RequestRoute.current
        let action = route.hasSuffix("/generate") || route == "/v1/completions" ? "generate" : "chat"
        throw APIError(.badRequest, "\"\(requested)\" does not support \(action)")
    }

    /// Unloads embedding models idle past their keep-alive (every idle one with `force`).
    func unloadIdleEmbeddingModels(force: Bool, now: ContinuousClock.Instant) {
        for (name, instance) in embeddingInstances where force ? instance.usage.isIdle : instance.usage.isExpired(at: now) {
            embeddingInstances[name] = nil
        }
    }
}

/// Runs `work` on a thread of its own (8 MiB of stack) and waits for it without holding one: an
/// encoder pass over a request's inputs never runs on the event loop or Swift's cooperative threads.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

extension HearthServer {
    /// Embeds `inputs` with an embedding model on a worker thread (never the event loop), with
    /// the model's own pooling: every input is tokenized and checked first (an error names its
    /// input), then all are computed together in packed passes. Token-id inputs are used as given.
    func encoderEmbeddings(_ instance: EmbeddingInstance, inputs: [EmbeddingInput], truncate: Bool,
                           started: ContinuousClock.Instant) async throws -> (vectors: [[Float]], tokens: Int) {
        let computing = ContinuousClock.now
        let model = instance.model
        let outcome: Result<([[Float]], Int), APIError> = await onOwnThread {
            var prepared: [[Int32]] = []
            for (index, input) in inputs.enumerated() {
                let field = inputs.count == 1 ? "input" : "input[\(index)]"
                do {
                    let tokens = switch input {
                    case .text(let text): try model.inputTokens(of: text, truncate: truncate)
                    case .tokens(let ids): try model.inputTokens(ofTokens: ids, truncate: truncate)
                    }
                    prepared.append(tokens)
                } catch EngineError.promptTooLong(let count, let limit) {
                    return .failure(APIError(
                        .badRequest, "\(field) is \(count) tokens, more than the context of \(limit) tokens",
                        parameter: field, code: "context_length_exceeded"))
                } catch {
                    return .failure(APIError.invalidField(field, "cannot embed it: \(error)"))
                }
            }
            do {
                return .success((try model.embeddings(ofInputs: prepared), prepared.reduce(0) { $0 + $1.count }))
            } catch {
                return .failure(APIError(.internalServerError, "cannot embed the input: \(error)"))
            }
        }
        let (vectors, tokens) = try outcome.get()
        await recordEmbedding(model: instance.name, tokens: tokens, started: started, computing: computing)
        return (vectors, tokens)
    }
}
