import Foundation
import Models
import Sampling

/// Speculative decoding by prompt lookup: the tokens that followed an earlier occurrence of the
/// output's last tokens (in the prompt or the answer so far) are proposed as the next ones, and
/// one forward pass checks them all. Work that repeats its input — an edit, a rename, a template
/// filled in — gets many tokens per pass over the weights.
///
/// Of the earlier occurrences, the one whose preceding tokens agree longest with the history's
/// is followed: when the answer copies its input, the place it copies from agrees with
/// everything written since the copy began, while a line that merely repeats elsewhere (a
/// signature, an indented `return`) agrees for a few tokens only. Taking the latest occurrence
/// of the last few tokens instead jumps to such repeats and loses whole passes.
///
/// The output is the output without speculation, token for token, under any sampling: every
/// proposed position's logits come from a pass whose rows are each computed as a row alone
/// (`SequenceInput.checksProposal`), and the sampler draws from them in the
/// same order, with the same random numbers, as plain decoding would; a proposal only decides
/// how many of those positions one pass computes.
public struct NGramSpeculation: Sendable, Equatable {
    /// Most tokens proposed at once (the draft length adapts below it).
    public var maximumDraft: Int
    /// The fewest of the history's last tokens an occurrence has to repeat, and the most
    /// compared when choosing between occurrences. Repeats of two to five tokens are mostly
    /// coincidences in text that is not copying (a keyword and a space, a common phrase), and a
    /// proposal drawn from one costs a pass of many rows for little: replaying a coding answer
    /// that does not repeat its prompt, six kept what paid and dropped most of what did not
    /// (BENCHMARKS.md, session 25).
    public var shortestMatch = 6
    public var longestMatch = 64

    public init(maximumDraft: Int = 63) {
        self.maximumDraft = max(1, min(maximumDraft, 64))
    }

    /// Up to `count` tokens that followed the earlier occurrence of `history`'s last
    /// ``shortestMatch`` tokens whose preceding tokens agree longest with the history's (up to
    /// ``longestMatch``); the latest of equally long ones.
    public func draft(after history: [Int32], count: Int) -> [Int32] {
        let length = history.count
        let shortest = max(1, shortestMatch)
        let longest = max(shortest, longestMatch)
        guard count > 0, length > shortest else { return [] }
        var best = -1
        var bestAgreement = 0
        history.withUnsafeBufferPointer { tokens in
            let last = tokens[length - 1]
            // `end` is where a candidate occurrence ends; never the history's own end.
            var end = length - 2
            while end >= shortest - 1 {
                defer { end -= 1 }
                guard tokens[end] == last else { continue }
                var agreement = 1
                while agreement < longest, agreement <= end, tokens[end - agreement] == tokens[length - 1 - agreement] {
                    agreement += 1
                }
                if agreement >= shortest, agreement > bestAgreement {
                    best = end + 1
                    bestAgreement = agreement
                    if agreement == longest { break }
                }
            }
        }
        guard best >= 0 else { return [] }
        return Array(history[best..<min(length, best + count)])
    }
}

/// How speculation went for one generation.
public struct SpeculationStatistics: Sendable, Equatable {
    /// Passes that checked a proposal, tokens proposed, and how many of them were kept.
    public var passes = 0
    public var proposed = 0
    public var accepted = 0

    public var acceptance: Double { proposed > 0 ? Double(accepted) / Double(proposed) : 0 }
}

/// The draft length from one pass to the next: up a step after a proposal kept whole, down to
/// the step that holds what was kept after a miss; after misses in a row the proposals pause, so
/// text that does not repeat costs almost nothing. The steps make passes of 2, 16, 32, 48 and 64
/// rows (the token and its proposal): batched products work in panels of 16 rows, so on a CPU a
/// pass of 4 or 8 rows costs nearly what one of 16 does (BENCHMARKS.md, session 24) and one of 17
/// nearly what one of 32 does.
struct DraftLength {
    static let steps = [1, 15, 31, 47, 63]
    let ladder: [Int]
    private var index: Int
    private var misses = 0
    private var pausedFor = 0

    init(maximum: Int) {
        var ladder = Self.steps.filter { $0 < maximum }
        ladder.append(maximum)
        self.ladder = ladder
        index = min(1, ladder.count - 1)
    }

    var current: Int { ladder[index] }

    /// How many tokens to propose now (0: do not look up this step).
    mutating func next() -> Int {
        if pausedFor > 0 {
            pausedFor -= 1
            return 0
        }
        return current
    }

    mutating func record(proposed: Int, accepted: Int) {
        if accepted == proposed {
            // A proposal cut short by the text it was drawn from says nothing about a longer one.
            if proposed == current { index = min(index + 1, ladder.count - 1) }
            misses = 0
            return
        }
        index = ladder.lastIndex { $0 <= accepted + 1 } ?? 0
        if accepted == 0 {
            misses += 1
            if misses >= 3 {
                pausedFor = 8
                misses = 0
            }
        } else {
            misses = 0
        }
    }
}

/// One generation's speculation: what to propose next and how the proposals fared, shared by a
/// session's loop and the scheduler's slots.
struct Speculator {
    /// Where proposals come from: the text so far (prompt lookup) or a draft model.
    enum Source {
        case lookup(NGramSpeculation)
        case model(DraftModel)
    }
    let source: Source
    private var length: DraftLength
    private(set) var statistics = SpeculationStatistics()

    init(_ speculation: NGramSpeculation) {
        source = .lookup(speculation)
        length = DraftLength(maximum: speculation.maximumDraft)
    }

    init(draft: DraftModel) {
        source = .model(draft)
        length = DraftLength(maximum: draft.maximumDraft)
    }

    /// Tokens to check beside the next one, after `prompt` and the answer so far, at most `room`
    /// (the context and the token limit left, and the pass's rows). A draft model that fails to
    /// run proposes nothing: the answer is the target's either way.
    mutating func propose(prompt: [Int32], generated: [Int32], room: Int) -> [Int32] {
        let wanted = min(length.next(), max(0, room))
        guard wanted > 0 else { return [] }
        switch source {
        case .lookup(let speculation): return speculation.draft(after: prompt + generated, count: wanted)
        case .model(let draft): return (try? draft.propose(after: prompt + generated, count: wanted)) ?? []
        }
    }

    mutating func record(proposed: Int, kept: Int) {
        statistics.passes += 1
        statistics.proposed += proposed
        statistics.accepted += kept
        length.record(proposed: proposed, accepted: kept)
    }
}

/// Decoding the same prompt with and without speculation (`hearth bench --ngram`).
public struct SpeculationBenchmarkResult: Sendable {
    /// Tokens per second of generation, one per repetition.
    public var plainRates: [Double] = []
    public var speculativeRates: [Double] = []
    /// The last speculative run's statistics.
    public var statistics = SpeculationStatistics()
    /// Whether every speculative run gave the plain run's tokens exactly.
    public var identical = true
    public var generatedTokens = 0
}

extension LoadedModel {
    /// Generates up to `maxTokens` after `prompt` with `sampling` (seeded, so both runs draw the
    /// same numbers), plainly and with `speculation` (or proposals from `draft`), alternating,
    /// after one warm-up of each.
    public func benchmarkSpeculation(prompt: [Int32], speculation: NGramSpeculation?, draft: DraftModel? = nil, sampling: SamplingParameters,
                                     maxTokens: Int, repetitions: Int) throws -> SpeculationBenchmarkResult {
        guard repetitions >= 1 else { throw EngineError.invalidOption("--reps", "must be ≥ 1, got \(repetitions)") }
        guard maxTokens >= 1 else { throw EngineError.invalidOption("--tg", "speculation needs --tg ≥ 1") }
        let drafted = max(speculation?.maximumDraft ?? 0, draft?.maximumDraft ?? 0)
        let session = try makeSession(contextLength: prompt.count + maxTokens + drafted + 1)
        var result = SpeculationBenchmarkResult()
        func run(speculating: Bool) throws -> GenerationResult {
            session.reset()
            let options = GenerationOptions(maxTokens: maxTokens, sampling: sampling, speculation: speculating ? speculation : nil,
                                            draft: speculating ? draft : nil)
            return try session.generate(prompt: prompt, options: options)
        }
        let reference = try run(speculating: false).tokens
        _ = try run(speculating: true)
        result.generatedTokens = reference.count
        for _ in 0..<repetitions {
            let plain = try run(speculating: false)
            let speculative = try run(speculating: true)
            result.plainRates.append(plain.generationTokensPerSecond)
            result.speculativeRates.append(speculative.generationTokensPerSecond)
            result.statistics = speculative.speculation ?? SpeculationStatistics()
            if plain.tokens != reference || speculative.tokens != reference { result.identical = false }
        }
        return result
    }
}
