import Engine
import Foundation
import Sampling
import Testing

/// Collects one scheduled generation's events.
final class Collector: @unchecked Sendable {
    private let lock = NSLock()
    private var pieces: [String] = []
    private var final: GenerationResult?
    private var failure: EngineError?
    private let done = DispatchSemaphore(value: 0)
    /// Cancel after this many pieces (nil: never).
    let cancelAfter: Int?

    init(cancelAfter: Int? = nil) { self.cancelAfter = cancelAfter }

    func handle(_ event: SchedulerEvent) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .piece(let piece):
            pieces.append(piece.text)
            if let cancelAfter, pieces.count >= cancelAfter { return false }
        case .finished(let result):
            final = result
            done.signal()
        case .failed(let error):
            failure = error
            done.signal()
        }
        return true
    }

    func wait() -> GenerationResult? {
        guard done.wait(timeout: .now() + 300) == .success else { return nil }
        return lock.withLock { final }
    }

    var streamed: String { lock.withLock { pieces.joined() } }
}

@Suite(.serialized) struct BatchSchedulerTests {
    static let prompts = [
        "The history of the printing press", "def quicksort(items):", "A recipe for bread:", "Dear Sir or Madam,",
        "The three laws of motion are", "SELECT name FROM", "Once upon a time in a small village", "The weather today",
    ]

    func options(seed: UInt64, maxTokens: Int = 24) -> GenerationOptions {
        var sampling = SamplingParameters()
        sampling.temperature = 0.9
        sampling.seed = seed
        return GenerationOptions(maxTokens: maxTokens, sampling: sampling)
    }

    /// The same request with the same seed gives the same tokens alone and beside seven others,
    /// and the same as a plain session.
    @Test func sameSeedSameTokensUnderLoad() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 8, contextLength: 512, prefixCacheBytes: 0))
        defer { scheduler.shutdown() }
        let prompt = loaded.tokenizer.encode(Self.prompts[0], addSpecial: true, parseSpecial: false)

        let alone = Collector()
        try scheduler.submit(prompt: prompt, options: options(seed: 7)) { alone.handle($0) }
        let aloneResult = try #require(alone.wait())

        var collectors: [Collector] = []
        for (index, text) in Self.prompts.enumerated() {
            let tokens = index == 3 ? prompt : loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
            let collector = Collector()
            try scheduler.submit(prompt: tokens, options: options(seed: index == 3 ? 7 : UInt64(100 + index))) { collector.handle($0) }
            collectors.append(collector)
        }
        let results = collectors.map { $0.wait() }
        let beside = try #require(results[3])
        #expect(beside.tokens == aloneResult.tokens, "same seed, same tokens with 7 others in the batch")
        #expect(collectors[3].streamed == aloneResult.text)
        #expect(results.allSatisfy { $0 != nil && $0!.tokens.count > 0 })

        let session = try loaded.makeSession(contextLength: 512)
        let plain = try session.generate(prompt: prompt, options: options(seed: 7))
        #expect(plain.tokens == aloneResult.tokens, "the scheduler generates what a plain session does")
    }

    /// A long shared system prompt is computed once: after the slot has served something else,
    /// the next request with that prefix copies it from the prefix cache.
    @Test func sharedPrefixIsReusedFromThePrefixCache() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 1, contextLength: 2048))
        defer { scheduler.shutdown() }
        let system = String(repeating: "You are a careful assistant who answers briefly and politely. ", count: 40)
        let first = loaded.tokenizer.encode(system + "Question one?", addSpecial: true, parseSpecial: false)
        let second = loaded.tokenizer.encode(system + "A different question?", addSpecial: true, parseSpecial: false)
        let unrelated = loaded.tokenizer.encode("Completely unrelated text", addSpecial: true, parseSpecial: false)
        #expect(first.count > 400)
        var results: [GenerationResult] = []
        for prompt in [first, unrelated, second] {
            let collector = Collector()
            try scheduler.submit(prompt: prompt, options: options(seed: 1, maxTokens: 4)) { collector.handle($0) }
            results.append(try #require(collector.wait()))
        }
        #expect(results[0].reusedPromptTokens == 0)
        #expect(results[1].reusedPromptTokens == 0, "nothing shared with the unrelated prompt")
        let common = zip(first, second).prefix { $0 == $1 }.count
        #expect(results[2].reusedPromptTokens >= common - 32 && results[2].reusedPromptTokens <= common,
                "reused \(results[2].reusedPromptTokens) of \(common) shared tokens")

        // The restored blocks are exact: the answer equals one computed from scratch.
        let session = try loaded.makeSession(contextLength: 2048)
        let fresh = try session.generate(prompt: second, options: options(seed: 1, maxTokens: 4))
        #expect(fresh.tokens == results[2].tokens)
    }

    @Test func cancelledRequestsFreeTheirSlotAndFullQueuesRefuse() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 1, contextLength: 512, maxQueue: 1))
        defer { scheduler.shutdown() }
        let prompt = loaded.tokenizer.encode("Tell me a long story", addSpecial: true, parseSpecial: false)
        let cancelled = Collector(cancelAfter: 3)
        try scheduler.submit(prompt: prompt, options: options(seed: 1, maxTokens: 400)) { cancelled.handle($0) }
        let waiting = Collector()
        try scheduler.submit(prompt: prompt, options: options(seed: 2, maxTokens: 8)) { waiting.handle($0) }
        #expect(throws: SchedulerError.self) {
            try scheduler.submit(prompt: prompt, options: self.options(seed: 3)) { _ in true }
        }
        let stopped = try #require(cancelled.wait())
        #expect(stopped.finishReason == .cancelled && stopped.tokens.count < 400)
        let next = try #require(waiting.wait())
        #expect(next.tokens.count == 8)
        #expect(scheduler.load.busy == 0 && scheduler.load.waiting == 0)
        #expect(throws: EngineError.self) {
            try scheduler.submit(prompt: Array(repeating: 1, count: 600), options: self.options(seed: 1)) { _ in true }
        }
    }

    /// A request cancelled while it waits (its client left) ends at once with `.cancelled` and
    /// gives its place in the queue back; it never takes a slot.
    @Test func requestsCancelledInTheQueueEndAtOnce() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 1, contextLength: 512, maxQueue: 1))
        defer { scheduler.shutdown() }
        let prompt = loaded.tokenizer.encode("Tell me a long story", addSpecial: true, parseSpecial: false)
        let running = Collector()
        let runningTicket = try scheduler.submit(prompt: prompt, options: options(seed: 1, maxTokens: 400)) { running.handle($0) }
        let abandoned = Collector()
        let abandonedTicket = try scheduler.submit(prompt: prompt, options: options(seed: 2, maxTokens: 8)) { abandoned.handle($0) }
        abandonedTicket.cancel()
        let ended = try #require(abandoned.wait())
        #expect(ended.finishReason == .cancelled && ended.tokens.isEmpty && abandoned.streamed.isEmpty)
        // Its place is free while the first request still runs.
        let next = Collector()
        try scheduler.submit(prompt: prompt, options: options(seed: 3, maxTokens: 4)) { next.handle($0) }
        runningTicket.cancel()
        #expect(try #require(running.wait()).finishReason == .cancelled)
        #expect(try #require(next.wait()).tokens.count == 4)
        #expect(scheduler.load.busy == 0 && scheduler.load.waiting == 0)
    }
}
