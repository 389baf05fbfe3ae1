import Foundation
import Models

/// What a scheduled generation reports, in order: pieces of text, then one `finished` or
/// `failed`.
public enum SchedulerEvent: Sendable {
    case piece(GeneratedPiece)
    case finished(GenerationResult)
    case failed(EngineError)
}

/// Why a request was not accepted.
public enum SchedulerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Every slot is busy and the queue is full.
    case queueFull(running: Int, waiting: Int)
    /// The scheduler is shutting down.
    case stopped

    public var description: String {
        switch self {
        case .queueFull(let running, let waiting):
            "the server is busy: \(running) requests running and \(waiting) waiting; retry shortly"
        case .stopped: "the model is shutting down"
        }
    }
}

/// Continuous batching: `slots` sequences generate together, each step one forward pass over
/// the next token of every active sequence plus a chunk of any pending prompt, so the weights
/// are read once per step for all of them and a long prompt never stalls the others for long.
/// Requests join and leave between steps; each has its own KV cache, sampler and RNG, and its
/// rows are computed exactly as they would be alone (same seed ⇒ same tokens under load).
///
/// ```swift
/// let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 8, contextLength: 4096))
/// try scheduler.submit(prompt: tokens, options: options) { event in print(event); return true }
/// ```
public final class BatchScheduler: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var slots: Int
        public var contextLength: Int
        /// Requests that may wait for a slot before `submit` refuses.
        public var maxQueue: Int
        /// Most prompt tokens computed in one step (beside the decoding sequences).
        public var promptChunk: Int
        /// Bytes of KV blocks kept for prompt-prefix reuse across slots (0 disables).
        public var prefixCacheBytes: Int
        /// A draft model proposing tokens for requests without prompt-lookup speculation, each
        /// slot with its own draft cache; it proposes only while one sequence is decoding (see
        /// ``BatchScheduler/step()``).
        public var draft: DraftModel.Plan?

        public init(slots: Int, contextLength: Int, maxQueue: Int = 16, promptChunk: Int = 64, prefixCacheBytes: Int = 256 << 20,
                    draft: DraftModel.Plan? = nil) {
            self.draft = draft
            self.slots = slots
            self.contextLength = contextLength
            self.maxQueue = maxQueue
            self.promptChunk = promptChunk
            self.prefixCacheBytes = prefixCacheBytes
        }
    }

    public let model: LoadedModel
    public let configuration: Configuration
    /// Context of each slot (the configured length, capped at the model's trained one).
    public let contextLength: Int
    private let slots: [Slot]
    private let prefixCache: PrefixCache?
    private let condition = NSCondition()
    private var pending: [Job] = []
    private var stopping = false
    /// Positions held in the KV caches of the slots generating, as of the last step (written by
    /// the scheduler's thread with the lock held, so ``occupancy`` never reads a cache mid-step).
    private var heldTokens = 0

    public init(model: LoadedModel, configuration: Configuration) throws {
        guard configuration.slots >= 1 else { throw EngineError.invalidOption("slots", "must be ≥ 1, got \(configuration.slots)") }
        guard configuration.promptChunk >= 1 else { throw EngineError.invalidOption("prompt chunk", "must be ≥ 1") }
        self.model = model
        self.configuration = configuration
        contextLength = min(configuration.contextLength, model.trainedContextLength)
        slots = try (0..<configuration.slots).map { _ in Slot(cache: try model.model.makeCache(capacity: min(configuration.contextLength, model.trainedContextLength))) }
        prefixCache = configuration.prefixCacheBytes > 0 ? PrefixCache(model: model.model, byteBudget: configuration.prefixCacheBytes) : nil
        // The thread keeps the scheduler alive until `shutdown()` lets it finish. The scheduler
        // must not hold the thread in turn: Foundation's Thread keeps its closure after the
        // thread ends, so that would be a cycle, and an unloaded model's weights would stay mapped.
        let thread = Thread { [self] in self.run() }
        thread.stackSize = 8 << 20
        thread.name = "hearth-scheduler"
        thread.start()
    }

    deinit {}

    /// Tokens per block of the prefix cache: prompts are reused across slots in whole blocks.
    public static var prefixBlockTokens: Int { PrefixCache.blockTokens }

    /// Bytes of the slots' KV caches (with the draft's, one per slot, when there is a draft).
    public var cacheBytes: Int {
        slots.reduce(0) { $0 + $1.cache.byteCount } + (configuration.draft?.cacheBytes(contextLength: contextLength) ?? 0) * slots.count
    }

    /// Sequences generating now, and requests waiting for a slot.
    public var load: (busy: Int, waiting: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (slots.filter { $0.job != nil }.count, pending.count)
    }

    /// How full the KV caches are: positions held by the requests generating (as of the last
    /// step), out of every slot's context. Idle slots keep their last conversation for reuse, but
    /// that space is free to take, so it does not count.
    public var occupancy: (heldTokens: Int, capacityTokens: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (heldTokens, slots.count * contextLength)
    }

    /// Queues a generation. `onEvent` is called on the scheduler's thread; returning false
    /// cancels the request (its slot is freed before the next step).
    @discardableResult
    public func submit(prompt: [Int32], options: GenerationOptions, onEvent: @escaping @Sendable (SchedulerEvent) -> Bool) throws -> GenerationTicket {
        let state = try GenerationState(prompt: prompt, options: options, model: model)
        guard prompt.count < contextLength else { throw EngineError.promptTooLong(tokens: prompt.count, context: contextLength) }
        let ticket = GenerationTicket()
        let job = Job(prompt: prompt, state: state, onEvent: onEvent, ticket: ticket)
        condition.lock()
        // Requests whose client left while waiting give their place in the queue back at once.
        let dropped = dropCancelledPending()
        defer {
            condition.unlock()
            notifyDropped(dropped)
        }
        guard !stopping else { throw SchedulerError.stopped }
        let busy = slots.filter { $0.job != nil }.count
        let free = slots.count - busy
        guard pending.count < free + configuration.maxQueue else {
            throw SchedulerError.queueFull(running: busy, waiting: pending.count)
        }
        pending.append(job)
        condition.signal()
        return ticket
    }

    /// Removes the waiting requests that were cancelled. Called with the lock held; the caller
    /// tells their owners (`notifyDropped`) once the lock is released.
    private func dropCancelledPending() -> [Job] {
        guard pending.contains(where: { $0.ticket.isCancelled }) else { return [] }
        let dropped = pending.filter { $0.ticket.isCancelled }
        pending.removeAll { $0.ticket.isCancelled }
        return dropped
    }

    /// Ends cancelled requests that never got a slot: their owners wait for a last event.
    private func notifyDropped(_ jobs: [Job]) {
        for job in jobs {
            job.state.cancel()
            _ = job.onEvent(.finished(job.state.result))
        }
    }

    /// Lets the requests in flight finish, then stops the thread; new submissions are refused.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    // MARK: the loop

    private func run() {
        while true {
            condition.lock()
            heldTokens = heldTokensNow()
            while !stopping && pending.isEmpty && !slots.contains(where: { $0.job != nil }) { condition.wait() }
            if stopping && pending.isEmpty && !slots.contains(where: { $0.job != nil }) {
                condition.unlock()
                return
            }
            let dropped = dropCancelledPending()
            admitPending()
            condition.unlock()
            notifyDropped(dropped)
            step()
        }
    }

    /// Gives waiting requests free slots: the slot whose cache shares the longest prefix with
    /// the prompt, else blocks from the prefix cache. Called with the lock held.
    private func admitPending() {
        while !pending.isEmpty, slots.contains(where: { $0.job == nil }) {
            let job = pending.removeFirst()
            let free = slots.filter { $0.job == nil }
            let slot = free.max { Self.shared($0.cachedTokens, job.prompt) < Self.shared($1.cachedTokens, job.prompt) }!
            // Keep the shared prefix, but recompute at least the last prompt token: its logits
            // give the first generated token.
            var reuse = min(Self.shared(slot.cachedTokens, job.prompt), job.prompt.count - 1)
            slot.cache.truncate(to: reuse)
            slot.cachedTokens.removeSubrange(reuse...)
            if let prefixCache {
                let restored = prefixCache.restore(prompt: job.prompt, into: slot.cache, from: reuse, limit: job.prompt.count - 1)
                if restored != reuse {
                    slot.cachedTokens = Array(job.prompt[0..<restored])
                    reuse = restored
                }
            }
            job.state.setTimings(reused: reuse)
            if let plan = configuration.draft, job.wantsDraft {
                // Made on first use: the slot's draft cache then follows every request it serves.
                if slot.draft == nil { slot.draft = try? plan.makeDraft(contextLength: slot.cache.capacity) }
                if let draft = slot.draft { job.useDraft(draft) }
            }
            job.admitted = Date()
            slot.job = job
            slot.cursor = reuse
        }
    }

    private func step() {
        // Requests whose client left go first, between steps.
        for slot in slots {
            if let job = slot.job, job.ticket.isCancelled {
                job.state.cancel()
                release(slot, event: .finished(job.state.result))
            }
        }
        var inputs: [SequenceInput] = []
        var members: [Slot] = []
        let decoding = slots.filter { $0.job?.nextToken != nil }
        // Room in the pass for proposals beside one row per decoding sequence.
        var proposalRows = TransformerModel.maximumBatch - decoding.count
        // A draft runs its steps for one sequence at a time, one token after another; with
        // several sequences decoding, the pass already reads the weights once for all of them,
        // so drafts only propose for a sequence decoding alone (prompt lookup costs nothing and
        // always may).
        let alone = decoding.count == 1
        for slot in decoding {
            guard let job = slot.job, let token = job.nextToken else { continue }
            job.proposal = job.propose(cacheCount: slot.cache.count, capacity: slot.cache.capacity, limit: proposalRows, alone: alone)
            proposalRows -= job.proposal.count
            inputs.append(SequenceInput(tokens: [token] + job.proposal, cache: slot.cache, wantsLogits: true,
                                        checksProposal: !job.proposal.isEmpty))
            members.append(slot)
        }
        var budget = min(configuration.promptChunk, TransformerModel.maximumBatch - inputs.reduce(0) { $0 + $1.tokens.count })
        for slot in slots where budget > 0 {
            guard let job = slot.job, job.nextToken == nil else { continue }
            let remaining = job.prompt.count - slot.cursor
            let count = min(remaining, budget)
            budget -= count
            inputs.append(SequenceInput(tokens: Array(job.prompt[slot.cursor..<slot.cursor + count]), cache: slot.cache,
                                        wantsLogits: count == remaining))
            members.append(slot)
        }
        guard !inputs.isEmpty else { return }

        let results: [[[Float]]]
        do {
            results = try model.model.forwardRows(inputs)
        } catch {
            for slot in members { release(slot, event: .failed(.invalidOption("forward pass", "\(error)"))) }
            return
        }
        for (index, slot) in members.enumerated() {
            guard let job = slot.job else { continue }
            let fed = inputs[index].tokens
            slot.cachedTokens.append(contentsOf: fed)
            if job.nextToken == nil {
                slot.cursor += fed.count
                if slot.cursor == job.prompt.count {
                    prefixCache?.store(prompt: job.prompt, from: slot.cache)
                    job.state.setTimings(prompt: Date().timeIntervalSince(job.admitted))
                    job.generationStart = Date()
                }
            }
            var rows = results[index]
            guard !rows.isEmpty else { continue }
            if job.proposal.isEmpty {
                advance(slot, job: job, logits: &rows[0])
            } else {
                check(slot, job: job, rows: &rows)
            }
        }
    }

    /// Steps the sampler through a speculative pass's rows while its tokens agree with the
    /// proposal (see ``NGramSpeculation``), then drops the cached positions after the last
    /// token kept.
    private func check(_ slot: Slot, job: Job, rows: inout [[Float]]) {
        let proposal = job.proposal
        let base = slot.cachedTokens.count - proposal.count - 1
        var kept = 0
        while slot.job === job {
            advance(slot, job: job, logits: &rows[kept], cached: base + 1 + kept)
            guard slot.job === job, let next = job.nextToken, kept < proposal.count, next == proposal[kept] else { break }
            // The sampled token is the proposed one, already in the cache: go on to its row.
            kept += 1
        }
        // Whatever the loop left in `nextToken` differs from the proposal (or the job ended), so
        // it is not in the cache: the positions from there on are the proposal's guesses.
        slot.cache.truncate(to: base + 1 + kept)
        slot.cachedTokens.removeSubrange((base + 1 + kept)...)
        job.recordCheck(proposed: proposal.count, kept: kept)
        job.proposal = []
    }

    /// Samples the next token of `job` and delivers its text. `cached`: the positions the
    /// sequence holds before that token (by default all the slot's).
    private func advance(_ slot: Slot, job: Job, logits: inout [Float], cached: Int? = nil) {
        switch job.state.step(logits: &logits, cached: cached ?? slot.cachedTokens.count, capacity: slot.cache.capacity) {
        case .next(let token, let piece):
            job.nextToken = token
            if let piece, !job.onEvent(.piece(piece)) {
                job.state.cancel()
                release(slot, event: .finished(job.state.result))
            }
        case .finished(let piece):
            if let piece { _ = job.onEvent(.piece(piece)) }
            release(slot, event: .finished(job.state.result))
        }
    }

    private func release(_ slot: Slot, event: SchedulerEvent) {
        guard let job = slot.job else { return }
        if let start = job.generationStart { job.state.setTimings(generation: Date().timeIntervalSince(start)) }
        var final = event
        if case .finished = event { final = .finished(job.state.result) }
        // Free the slot before telling the owner, so a finished request never looks busy.
        condition.lock()
        slot.job = nil
        heldTokens = heldTokensNow()
        condition.unlock()
        _ = job.onEvent(final)
    }

    /// Positions the slots generating hold. On the scheduler's thread (which alone changes
    /// the caches), with the lock held.
    private func heldTokensNow() -> Int {
        slots.reduce(0) { $0 + ($1.job == nil ? 0 : $1.cachedTokens.count) }
    }

    static func shared(_ a: [Int32], _ b: [Int32]) -> Int { zip(a, b).prefix { $0 == $1 }.count }
}

/// Lets a request's owner cancel it.
public final class GenerationTicket: Sendable {
    private let flag = LockedFlag()
    public init() {}
    public func cancel() { flag.set() }
    public var isCancelled: Bool { flag.isSet }
}

/// A boolean that only goes from false to true, safe to share between threads.
public final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public func set() { lock.withLock { value = true } }
    public var isSet: Bool { lock.withLock { value } }
}

/// One KV cache and the request using it (only the scheduler thread touches `job` state).
private final class Slot {
    let cache: KVCache
    var cachedTokens: [Int32] = []
    var job: Job?
    /// Prompt tokens of the current job already in the cache.
    var cursor = 0
    /// The slot's draft model (its own cache), made when a request first uses one.
    var draft: DraftModel?
    init(cache: KVCache) { self.cache = cache }
}

private final class Job {
    let prompt: [Int32]
    var state: GenerationState
    let onEvent: @Sendable (SchedulerEvent) -> Bool
    let ticket: GenerationTicket
    /// The sampled token to feed next; nil while the prompt is still being computed.
    var nextToken: Int32?
    var admitted = Date()
    var generationStart: Date?
    /// With speculation: what to propose and how it fared, and the proposal fed in this step.
    private var speculator: Speculator?
    var proposal: [Int32] = []

    init(prompt: [Int32], state: GenerationState, onEvent: @escaping @Sendable (SchedulerEvent) -> Bool, ticket: GenerationTicket) {
        self.prompt = prompt
        self.state = state
        self.onEvent = onEvent
        self.ticket = ticket
        speculator = state.options.speculation.map(Speculator.init)
    }

    /// Whether the scheduler's draft model may propose for this request: not when it asked for
    /// prompt lookup.
    var wantsDraft: Bool { speculator == nil }

    func useDraft(_ draft: DraftModel) { speculator = Speculator(draft: draft) }

    /// Tokens to check beside the next one: at most `limit`, none past the context or the token
    /// limit, and none from a draft model unless the sequence decodes `alone`.
    func propose(cacheCount: Int, capacity: Int, limit: Int, alone: Bool) -> [Int32] {
        if case .model? = speculator?.source, !alone { return [] }
        let room = min(capacity - cacheCount - 1, state.options.maxTokens - state.result.tokens.count - 1, limit)
        return speculator?.propose(prompt: prompt, generated: state.result.tokens, room: room) ?? []
    }

    func recordCheck(proposed: Int, kept: Int) {
        speculator?.record(proposed: proposed, kept: kept)
        if let statistics = speculator?.statistics { state.recordSpeculation(statistics) }
    }
}
