import Engine
import Foundation
import JSON

/// Several answers to one request (OpenAI's `n`, and the legacy completions' list of prompts):
/// each choice is a generation of its own, queued together so the scheduler decodes them side
/// by side, and streamed as their pieces come.
extension HearthServer {
    /// Starts every request's generation; when one cannot start, the ones already started are
    /// dropped (which cancels them) and its error is the answer.
    func startGenerations(_ requests: [GenerationRequest]) async throws -> [ActiveGeneration] {
        var actives: [ActiveGeneration] = []
        for request in requests { actives.append(try await startGeneration(request)) }
        return actives
    }

    /// Runs generations to the end side by side; the results keep the order of `actives`.
    static func runAll(_ actives: [ActiveGeneration]) async throws -> [GenerationResult] {
        if actives.count == 1 { return [try await actives[0].run { _ in }] }
        return try await withThrowingTaskGroup(of: (Int, GenerationResult).self) { group in
            for (index, active) in actives.enumerated() {
                group.addTask { (index, try await active.run { _ in }) }
            }
            var results = [GenerationResult?](repeating: nil, count: actives.count)
            for try await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    /// Runs `count` producers side by side, each writing its lines through `emit`; the lines go
    /// to `send` in the order they come. Returns each producer's result, in producer order.
    static func merged(
        count: Int, send: (String) async throws -> Void,
        produce: @escaping @Sendable (_ index: Int, _ emit: (String) async throws -> Void) async throws -> GenerationResult
    ) async throws -> [GenerationResult] {
        if count == 1 { return [try await produce(0, send)] }
        let (lines, continuation) = AsyncThrowingStream<String, any Error>.makeStream()
        let results = ResultSlots(count: count)
        let runner = Task {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<count {
                        group.addTask {
                            let result = try await produce(index) { line in continuation.yield(line) }
                            results.set(index, result)
                        }
                    }
                    try await group.waitForAll()
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        do {
            for try await line in lines { try await send(line) }
        } catch {
            runner.cancel()
            throw error
        }
        return results.all
    }
}

/// Results written by concurrent producers, read once they have all finished.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [GenerationResult?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: GenerationResult) { lock.withLock { slots[index] = result } }

    var all: [GenerationResult] { lock.withLock { slots.compactMap { $0 } } }
}

/// One prompt of the legacy completions route: text, or token ids of the model's vocabulary.
enum CompletionPrompt: Sendable {
    case text(String)
    case tokens([Int32])

    func tokens(_ loaded: LoadedModel) throws(APIError) -> [Int32] {
        switch self {
        case .text(let text): return loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        case .tokens(let ids):
            let size = loaded.tokenizer.vocabularySize
            if let bad = ids.first(where: { Int($0) >= size }) {
                throw APIError.invalidField("prompt", "token id \(bad) is not in the model's vocabulary of \(size) tokens")
            }
            return ids
        }
    }

    /// The prompt as text (token ids decoded), for fill-in-the-middle and `echo`.
    func text(_ loaded: LoadedModel) -> String {
        switch self {
        case .text(let text): return text
        case .tokens(let ids): return loaded.tokenizer.decode(ids)
        }
    }

    func echo(_ loaded: LoadedModel) -> String { text(loaded) }
}
