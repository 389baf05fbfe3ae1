import Engine
import Foundation
import Kernels
import Sampling
import Testing
@testable import Engine

@Suite struct NGramDraftTests {
    @Test func proposesWhatFollowedTheLatestEarlierOccurrence() {
        var speculation = NGramSpeculation(maximumDraft: 8)
        speculation.shortestMatch = 2
        // "... 5 6 7 | 1 2 3 9 | ... 1 2 3" → the latest earlier "1 2 3" was followed by 9.
        let history: [Int32] = [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 9, 8, 1, 2, 3]
        #expect(speculation.draft(after: history, count: 3) == [9, 8, 1])
        #expect(speculation.draft(after: history, count: 1) == [9])
        #expect(speculation.draft(after: history, count: 0).isEmpty)
        // Only the shortest match (2 tokens) occurs.
        #expect(speculation.draft(after: [5, 6, 7, 8, 0, 7, 8], count: 4) == [0, 7, 8])
        // Nothing repeats, or too little history.
        #expect(speculation.draft(after: [1, 2, 3, 4, 5], count: 4).isEmpty)
        #expect(speculation.draft(after: [1], count: 4).isEmpty)
    }

    @Test func followsTheOccurrenceWhoseContextAgreesLongest() {
        var speculation = NGramSpeculation(maximumDraft: 8)
        speculation.shortestMatch = 2
        // "3 4" occurs twice before the end; the later one is preceded by 7, the earlier by
        // "1 2" as the history's last "3 4" is: an answer copying from there goes on with 9.
        let history: [Int32] = [1, 2, 3, 4, 9, 7, 3, 4, 5, 1, 2, 3, 4]
        #expect(speculation.draft(after: history, count: 3) == [9, 7, 3])
        // Agreement is compared up to `longestMatch` tokens; beyond it the latest wins.
        var short = speculation
        short.longestMatch = 2
        #expect(short.draft(after: history, count: 3) == [5, 1, 2])
        // A run of one token: the occurrence just before the end agrees longest.
        #expect(speculation.draft(after: [8, 5, 5, 5, 5], count: 2) == [5])
    }

    @Test func shortRepeatsProposeNothingByDefault() {
        let speculation = NGramSpeculation()
        // The last five tokens occurred before: below the six a proposal needs by default.
        let five: [Int32] = [1, 2, 3, 4, 5, 9, 9, 0, 1, 2, 3, 4, 5]
        #expect(speculation.draft(after: five, count: 4).isEmpty)
        // Six agree: what followed them is proposed.
        let six: [Int32] = [7, 1, 2, 3, 4, 5, 9, 9, 7, 1, 2, 3, 4, 5]
        #expect(speculation.draft(after: six, count: 2) == [9, 9])
    }

    @Test func draftLengthsFillPanelsGrowOnSuccessAndPauseAfterMisses() {
        var length = DraftLength(maximum: 63)
        #expect(length.next() == 15)
        length.record(proposed: 15, accepted: 15)
        #expect(length.next() == 31)
        length.record(proposed: 31, accepted: 31)
        length.record(proposed: 47, accepted: 47)
        #expect(length.next() == 63)
        length.record(proposed: 63, accepted: 63)
        #expect(length.next() == 63)
        // A miss after 20 kept: down to the step that holds 21 (15 proposed, 16 rows).
        length.record(proposed: 63, accepted: 20)
        #expect(length.next() == 15)
        // A proposal cut short by the text that was kept whole does not climb.
        length.record(proposed: 4, accepted: 4)
        #expect(length.next() == 15)
        for _ in 0..<3 { length.record(proposed: 1, accepted: 0) }
        #expect((0..<8).map { _ in length.next() } == [Int](repeating: 0, count: 8))
        #expect(length.next() == 1)
        #expect(DraftLength(maximum: 5).ladder == [1, 5])
        // A miss after 5 kept: down to a pass of 2 rows, then back up to 16 when that is kept.
        length.record(proposed: 1, accepted: 1)
        length.record(proposed: 15, accepted: 5)
        #expect(length.next() == 1)
        length.record(proposed: 1, accepted: 1)
        #expect(length.next() == 15)
    }
}

/// Speculation changes how many positions one pass computes, never the output: the same tokens
/// as plain decoding, greedy and sampled, in llama.cpp's product order and in block sums.
@Suite(.serialized) struct SpeculationOutputTests {
    static let request = """
        Rename the function `area` to `surface` and reply with the whole code only:
        def area(width, height):
            return width * height

        def total_area(rooms):
            return sum(area(room.width, room.height) for room in rooms)

        print(total_area([]))
        """

    @Test(arguments: [("smollm2:135m", ProductOrder.llamaCpp), ("qwen2.5-coder:0.5b", .llamaCpp), ("qwen2.5-coder:0.5b", .blockSums),
                      ("gemma3:270m", .llamaCpp)])
    func speculationGivesPlainDecodingsTokens(model name: String, order: ProductOrder) throws {
        let loaded = try LoadedModel(path: try testModelPath(name), threads: 2, productOrder: order)
        let format = try loaded.chatFormat()
        let prompt = format.tokens(forRendered: try format.render([.user(Self.request)], addGenerationPrompt: true))
        var sampled = SamplingParameters()
        sampled.temperature = 0.8
        sampled.seed = 7
        // Proposals from repeats as short as two tokens: more passes, kept and rejected, to check.
        var speculation = NGramSpeculation()
        speculation.shortestMatch = 2
        for sampling in [SamplingParameters.greedy, sampled] {
            let session = try loaded.makeSession(contextLength: 1024)
            let plain = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: 96, sampling: sampling))
            let plainCache = session.cachedTokens
            session.reset()
            var pieces: [String] = []
            let speculative = try session.generate(
                prompt: prompt, options: GenerationOptions(maxTokens: 96, sampling: sampling, speculation: speculation),
                onPiece: { pieces.append($0.text); return true })
            #expect(speculative.tokens == plain.tokens, "\(name), temperature \(sampling.temperature)")
            #expect(speculative.text == plain.text && pieces.joined() == plain.text)
            #expect(speculative.finishReason == plain.finishReason)
            let statistics = try #require(speculative.speculation)
            #expect(statistics.passes > 0 && statistics.accepted > 0, "the rename repeats its input: \(statistics)")
            // The cache holds what plain decoding's holds (no rejected proposal): a follow-up reuses it alike.
            #expect(session.cachedTokens == plainCache)
        }
    }

    @Test func aShortContextEndsAsPlainDecodingEnds() throws {
        let loaded = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let prompt = loaded.tokenizer.encode("one two three one two three one two three one two", addSpecial: true)
        let session = try loaded.makeSession(contextLength: prompt.count + 9)
        let plain = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: 100, sampling: .greedy))
        session.reset()
        let speculative = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: 100, sampling: .greedy,
                                                                                          speculation: NGramSpeculation()))
        #expect(speculative.tokens == plain.tokens)
        #expect(speculative.finishReason == plain.finishReason && plain.finishReason == .length)
        #expect(session.cachedTokens.count <= session.contextLength)
    }
}

/// A draft model (qwen2.5-coder:0.5b) proposing for qwen2.5-coder:1.5b: the 1.5b's tokens,
/// greedy and sampled, across two turns of one session (the draft's cache follows the history).
@Suite(.serialized) struct DraftModelSpeculationTests {
    @Test func draftProposalsGiveTheModelsOwnTokens() throws {
        let target = try LoadedModel(path: try testModelPath("qwen2.5-coder:1.5b"), threads: 2)
        let draftModel = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2)
        #expect(DraftModel.incompatibility(of: draftModel, with: target) == nil)
        let draft = try DraftModel(model: draftModel, contextLength: 1024, maximumDraft: 8)
        let format = try target.chatFormat()
        let first = format.tokens(forRendered: try format.render(
            [.user("Write a Python function that returns the n-th Fibonacci number.")], addGenerationPrompt: true))
        var sampled = SamplingParameters()
        sampled.temperature = 0.8
        sampled.seed = 3
        for sampling in [SamplingParameters.greedy, sampled] {
            let plainSession = try target.makeSession(contextLength: 1024)
            let draftedSession = try target.makeSession(contextLength: 1024)
            var prompt = first
            for turn in 0..<2 {
                let plain = try plainSession.generate(prompt: prompt, options: GenerationOptions(maxTokens: 48, sampling: sampling))
                let drafted = try draftedSession.generate(prompt: prompt, options: GenerationOptions(maxTokens: 48, sampling: sampling, draft: draft))
                #expect(drafted.tokens == plain.tokens, "turn \(turn), temperature \(sampling.temperature)")
                #expect(draftedSession.cachedTokens == plainSession.cachedTokens)
                let statistics = try #require(drafted.speculation)
                #expect(statistics.passes > 0 && statistics.accepted > 0, "the 0.5b guesses the 1.5b's code: \(statistics)")
                prompt = plainSession.cachedTokens + format.tokens(forRendered: "<|im_end|>\n<|im_start|>user\nNow add type hints.<|im_end|>\n<|im_start|>assistant\n")
            }
        }
    }

    @Test func aDraftWithAnotherVocabularyIsRefusedByName() throws {
        let target = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2)
        let other = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        let reason = try #require(DraftModel.incompatibility(of: other, with: target))
        #expect(reason.contains("49152") && reason.contains("151936"))
        #expect(throws: EngineError.self) { try DraftModel(model: other, contextLength: 64, maximumDraft: 0) }
    }
}

/// In the scheduler, each slot speculates on its own beside the others' rows and prompt chunks:
/// every request still gets a plain session's tokens.
@Suite(.serialized) struct SchedulerSpeculationTests {
    @Test(arguments: [ProductOrder.llamaCpp, .blockSums])
    func slotsSpeculatingTogetherGivePlainSessionsTokens(order: ProductOrder) throws {
        let loaded = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2, productOrder: order)
        let format = try loaded.chatFormat()
        let requests = [SpeculationOutputTests.request, SpeculationOutputTests.request.replacingOccurrences(of: "`surface`", with: "`size`"),
                        "Write a haiku about rivers."]
        let prompts = try requests.map { format.tokens(forRendered: try format.render([.user($0)], addGenerationPrompt: true)) }
        var sampled = SamplingParameters()
        sampled.temperature = 0.7
        sampled.seed = 3
        let samplings = [SamplingParameters.greedy, sampled, .greedy]
        let scheduler = try BatchScheduler(model: loaded, configuration: .init(slots: 3, contextLength: 1024, promptChunk: 16))
        defer { scheduler.shutdown() }
        var collectors: [Collector] = []
        for (prompt, sampling) in zip(prompts, samplings) {
            let collector = Collector()
            try scheduler.submit(prompt: prompt, options: GenerationOptions(maxTokens: 80, sampling: sampling, speculation: NGramSpeculation())) {
                collector.handle($0)
            }
            collectors.append(collector)
        }
        let results = collectors.map { $0.wait() }
        for (index, (prompt, sampling)) in zip(prompts, samplings).enumerated() {
            let session = try loaded.makeSession(contextLength: 1024)
            let plain = try session.generate(prompt: prompt, options: GenerationOptions(maxTokens: 80, sampling: sampling))
            let result = try #require(results[index])
            #expect(result.tokens == plain.tokens, "request \(index)")
            #expect(collectors[index].streamed == plain.text)
        }
        #expect((results[0]?.speculation?.accepted ?? 0) > 0, "the rename repeats its input")
    }
}

/// `hearth serve --draft`: each slot keeps its own draft, which proposes while its sequence
/// decodes alone; requests running together decode plainly. Every request gets a plain session's
/// tokens either way, and a request after the first reuses the slot's draft cache.
@Suite(.serialized) struct SchedulerDraftTests {
    @Test func slotDraftsGivePlainSessionsTokensAloneAndTogether() throws {
        let target = try LoadedModel(path: try testModelPath("qwen2.5-coder:1.5b"), threads: 2)
        let draftModel = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2)
        let plan = try DraftModel.Plan(model: draftModel, for: target, maximumDraft: 8)
        let format = try target.chatFormat()
        let prompts = try ["Write a Python function that returns the n-th Fibonacci number.", "Write a haiku about rivers."].map {
            format.tokens(forRendered: try format.render([.user($0)], addGenerationPrompt: true))
        }
        var sampled = SamplingParameters()
        sampled.temperature = 0.8
        sampled.seed = 5
        let scheduler = try BatchScheduler(model: target, configuration: .init(slots: 2, contextLength: 512, draft: plan))
        defer { scheduler.shutdown() }
        #expect(scheduler.cacheBytes == 2 * (target.model.cacheType.cacheBytes(target.model.hyperparameters, capacity: 512)
                                             + plan.cacheBytes(contextLength: 512)))
        func plain(_ prompt: [Int32], _ sampling: SamplingParameters) throws -> [Int32] {
            try target.makeSession(contextLength: 512).generate(prompt: prompt, options: GenerationOptions(maxTokens: 40, sampling: sampling)).tokens
        }
        // Alone: greedy, then sampled (the second reuses the slot and its draft cache).
        for sampling in [SamplingParameters.greedy, sampled] {
            let collector = Collector()
            try scheduler.submit(prompt: prompts[0], options: GenerationOptions(maxTokens: 40, sampling: sampling)) { collector.handle($0) }
            let result = try #require(collector.wait())
            #expect(result.tokens == (try plain(prompts[0], sampling)), "temperature \(sampling.temperature)")
            let statistics = try #require(result.speculation)
            #expect(statistics.passes > 0 && statistics.accepted > 0, "the 0.5b guesses the 1.5b's code: \(statistics)")
        }
        // Together: both decode at once, so the drafts mostly wait; the tokens are the plain ones.
        let collectors = prompts.map { _ in Collector() }
        for (prompt, collector) in zip(prompts, collectors) {
            try scheduler.submit(prompt: prompt, options: GenerationOptions(maxTokens: 40, sampling: .greedy)) { collector.handle($0) }
        }
        for (prompt, collector) in zip(prompts, collectors) {
            let result = try #require(collector.wait())
            #expect(result.tokens == (try plain(prompt, .greedy)))
        }
    }

    @Test func aPlanRefusesAnotherVocabularyAndBadSettings() throws {
        let target = try LoadedModel(path: try testModelPath("qwen2.5-coder:0.5b"), threads: 2)
        let other = try LoadedModel(path: try testModelPath("smollm2:135m"), threads: 2)
        #expect(throws: EngineError.self) { try DraftModel.Plan(model: other, for: target) }
        #expect(throws: EngineError.self) { try DraftModel.Plan(model: target, for: target, maximumDraft: 65) }
        #expect(throws: EngineError.self) { try DraftModel.Plan(model: target, for: target, minimumProbability: 1.5) }
    }
}
