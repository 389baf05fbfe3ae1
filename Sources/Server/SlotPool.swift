import Engine
import Foundation
import HTTPTypes

/// The sessions of one model and the requests waiting for them. A request holds a slot from
/// its first prompt token to its last generated one; when all are busy it waits in a bounded
/// queue, and beyond that it is refused (503 with Retry-After) instead of piling up.
actor SlotPool {
    private var free: [Session]
    private var waiting: [(id: UInt64, continuation: CheckedContinuation<Session, any Error>)] = []
    private var nextWaiterID: UInt64 = 0
    let capacity: Int
    let maxQueue: Int

    init(sessions: [Session], maxQueue: Int) {
        free = sessions
        capacity = sessions.count
        self.maxQueue = maxQueue
    }

    var queueDepth: Int { waiting.count }
    var busySlots: Int { capacity - free.count }

    /// A free session — the one whose cache shares the longest prefix with `prompt`, so a
    /// growing chat or a shared system prompt is not recomputed — or a place in the queue.
    func acquire(prompt: [Int32]) async throws -> Session {
        if !free.isEmpty {
            let best = free.indices.max { Self.sharedPrefix(free[$0].cachedTokens, prompt) < Self.sharedPrefix(free[$1].cachedTokens, prompt) }!
            return free.remove(at: best)
        }
        guard waiting.count < maxQueue else {
            var error = APIError(.serviceUnavailable, "the server is busy: \(capacity) requests running and \(waiting.count) waiting; retry shortly")
            error.headers[.retryAfter] = "1"
            throw error
        }
        nextWaiterID += 1
        let id = nextWaiterID
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiting.append((id, continuation))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    func release(_ session: Session) {
        if waiting.isEmpty {
            free.append(session)
        } else {
            waiting.removeFirst().continuation.resume(returning: session)
        }
    }

    static func sharedPrefix(_ a: [Int32], _ b: [Int32]) -> Int {
        zip(a, b).prefix { $0 == $1 }.count
    }
}

/// What a generation thread reports to the request that started it.
enum GenerationEvent: Sendable {
    case piece(GeneratedPiece)
    case finished(GenerationResult)
    case failed(any Error)
}

/// Set when the client goes away; the generation loop checks it between tokens.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    var isCancelled: Bool { lock.withLock { cancelled } }
    func cancel() { lock.withLock { cancelled = true } }
}

extension Session {
    /// Runs `generate` on its own thread (forward passes are long CPU work that must not block
    /// the server's event loops or Swift's cooperative pool) and streams its events.
    func generateStream(prompt: [Int32], options: GenerationOptions, cancellation: CancellationFlag)
        -> AsyncStream<GenerationEvent>
    {
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream(bufferingPolicy: .unbounded)
        let thread = Thread { [self] in
            do {
                let result = try self.generate(prompt: prompt, options: options) { piece in
                    continuation.yield(.piece(piece))
                    return !cancellation.isCancelled
                }
                continuation.yield(.finished(result))
            } catch {
                continuation.yield(.failed(error))
            }
            continuation.finish()
        }
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }
}
