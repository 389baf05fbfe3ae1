import Foundation

/// CPU work a request needs before it reaches a model (parsing a large body, rendering a chat
/// template, tokenising, compiling a grammar) runs on a few threads of its own, never on the
/// event loops or Swift's cooperative threads: those are as many as the cores, and a handful of
/// slow requests parked on them would stall every route, `/health` included. The queue is
/// bounded; past it a request is refused with 429 rather than piling up.
final class CPUWorkPool: @unchecked Sendable {
    static let shared = CPUWorkPool(threads: max(2, ProcessInfo.processInfo.activeProcessorCount), queueLimit: 256)

    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    let queueLimit: Int

    init(threads: Int, queueLimit: Int) {
        self.queueLimit = queueLimit
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            // Templates and grammars recurse; Dispatch's 512 KiB stacks are not enough for all.
            thread.stackSize = 8 << 20
            thread.name = "hearth-cpu-\(index)"
            thread.start()
        }
    }

    /// How many jobs wait for a thread.
    var waiting: Int { condition.withLock { queue.count - head } }

    /// Queues `job`; throws 429 when `queueLimit` jobs are already waiting.
    func submit(_ job: @escaping @Sendable () -> Void) throws(APIError) {
        condition.lock()
        defer { condition.unlock() }
        guard queue.count - head < queueLimit else {
            throw APIError(.tooManyRequests, "the server is busy preparing \(queueLimit) other requests; try again shortly")
        }
        queue.append(job)
        condition.signal()
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count { condition.wait() }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}

/// Runs `work` on the ``CPUWorkPool`` and waits for it without holding a thread.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        do {
            try CPUWorkPool.shared.submit { continuation.resume(with: Result { try work() }) }
        } catch {
            continuation.resume(throwing: error)
        }
    }
}
