/// One sequence's sampler: the chain penalties → top-k → top-p → min-p → temperature → draw,
/// as llama.cpp orders it. Holds per-sequence state (recent tokens, RNG), so each session owns one.
///
/// ```swift
/// var sampler = try Sampler(parameters: .init(temperature: 0.7, seed: 42), vocabularySize: 49152)
/// let token = sampler.sample(logits: logits)
/// sampler.accept(token)
/// ```
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    public let vocabularySize: Int
    private var generator: SeededGenerator
    /// Recent tokens for the penalties, oldest first, at most `repeatLastN` (or all when -1).
    private var history: [Int32] = []
    /// Scratch buffers reused between calls: no allocation per token once warmed up.
    private var candidates: [Candidate] = []

    /// A token still in the running, with its (possibly penalised) logit and probability.
    public struct Candidate: Sendable, Equatable {
        public var token: Int32
        public var logit: Float
        public var probability: Float
    }

    public init(parameters: SamplingParameters, vocabularySize: Int) throws(SamplingError) {
        try parameters.validate()
        guard vocabularySize > 0 else {
            throw SamplingError(field: "vocabulary_size", reason: "must be > 0, got \(vocabularySize)")
        }
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        self.generator = SeededGenerator(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Records a token as seen (prompt or generated), for the repetition penalties.
    public mutating func accept(_ token: Int32) {
        let limit = parameters.repeatLastN
        guard limit != 0 else { return }
        history.append(token)
        if limit > 0, history.count > limit * 2 {
            history.removeFirst(history.count - limit)
        }
    }

    /// Forgets the penalty history (a new conversation in the same session).
    public mutating func reset() { history.removeAll(keepingCapacity: true) }

    /// Draws the next token from `logits` (one per vocabulary entry). `logits` is modified in place
    /// by the penalties. Non-finite logits are treated as impossible tokens.
    public mutating func sample(logits: inout [Float]) -> Int32 {
        precondition(logits.count == vocabularySize, "logits count \(logits.count) ≠ vocabulary size \(vocabularySize)")
        applyPenalties(to: &logits)
        return choose(logits)
    }

    /// Draws the next token among those `constraint` allows. The token is drawn from the whole
    /// distribution first and only checked; when the constraint refuses it, the refused tokens'
    /// logits become -infinity and the chain runs again. Drawing t from p and redrawing from p
    /// restricted to the allowed set A when t ∉ A picks t ∈ A with probability p(t)/p(A), the
    /// same as masking first, but the full mask is computed only on a refusal. Returns nil when
    /// the constraint allows no token at all.
    public mutating func sample(logits: inout [Float], constraint: some TokenConstraint) -> Int32? {
        precondition(logits.count == vocabularySize, "logits count \(logits.count) ≠ vocabulary size \(vocabularySize)")
        applyPenalties(to: &logits)
        let first = choose(logits)
        if logits[Int(first)].isFinite, constraint.allows(first) { return first }
        constraint.maskLogits(&logits)
        let second = choose(logits)
        return logits[Int(second)].isFinite ? second : nil
    }

    /// Greedy or the truncation chain and a draw, over already-penalised logits.
    private mutating func choose(_ logits: [Float]) -> Int32 {
        if parameters.temperature <= 0 || parameters.topK == 1 {
            return Self.argmax(logits)
        }
        selectTopK(logits)
        if candidates.isEmpty { return Self.argmax(logits) }
        softmaxCandidates(temperature: 1)
        applyTopP()
        applyMinP()
        softmaxCandidates(temperature: parameters.temperature)
        return draw()
    }

    /// The most likely token; ties go to the lowest id, as llama.cpp's greedy sampler does.
    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        var bestValue = -Float.infinity
        for index in logits.indices where logits[index] > bestValue {
            bestValue = logits[index]
            best = index
        }
        return Int32(best)
    }

    // MARK: - The chain

    private func recentWindow() -> ArraySlice<Int32> {
        let limit = parameters.repeatLastN
        if limit < 0 || history.count <= limit { return history[...] }
        return history[(history.count - limit)...]
    }

    private func applyPenalties(to logits: inout [Float]) {
        let p = parameters
        guard p.repeatPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 else { return }
        var counts: [Int32: Int] = [:]
        for token in recentWindow() where token >= 0 && Int(token) < vocabularySize {
            counts[token, default: 0] += 1
        }
        for (token, count) in counts {
            var logit = logits[Int(token)]
            // Dividing a negative logit would make the token *more* likely; multiply it instead.
            logit = logit <= 0 ? logit * p.repeatPenalty : logit / p.repeatPenalty
            logit -= Float(count) * p.frequencyPenalty + p.presencePenalty
            logits[Int(token)] = logit
        }
    }

    /// Keeps the K best finite logits (all of them when K is 0), sorted best first.
    private mutating func selectTopK(_ logits: [Float]) {
        candidates.removeAll(keepingCapacity: true)
        let k = parameters.topK == 0 ? vocabularySize : min(parameters.topK, vocabularySize)
        if k >= vocabularySize {
            for (index, logit) in logits.enumerated() where logit.isFinite {
                candidates.append(Candidate(token: Int32(index), logit: logit, probability: 0))
            }
            candidates.sort(by: Self.better)
            return
        }
        // A min-heap of the best K so far: O(n log K) rather than sorting the whole vocabulary.
        var heap = MinHeap(capacity: k)
        for (index, logit) in logits.enumerated() where logit.isFinite {
            heap.offer(Candidate(token: Int32(index), logit: logit, probability: 0))
        }
        candidates.append(contentsOf: heap.elements)
        candidates.sort(by: Self.better)
    }

    fileprivate static func better(_ a: Candidate, _ b: Candidate) -> Bool {
        a.logit != b.logit ? a.logit > b.logit : a.token < b.token
    }

    private mutating func softmaxCandidates(temperature: Float) {
        guard let maxLogit = candidates.first?.logit else { return }
        var sum: Float = 0
        for index in candidates.indices {
            let p = ((candidates[index].logit - maxLogit) / temperature).exp()
            candidates[index].probability = p
            sum += p
        }
        for index in candidates.indices { candidates[index].probability /= sum }
    }

    private mutating func applyTopP() {
        let topP = parameters.topP
        guard topP < 1 else { return }
        var cumulative: Float = 0
        for index in candidates.indices {
            cumulative += candidates[index].probability
            if cumulative >= topP {
                candidates.removeSubrange((index + 1)...)
                return
            }
        }
    }

    private mutating func applyMinP() {
        let minP = parameters.minP
        guard minP > 0, let best = candidates.first?.probability else { return }
        let threshold = best * minP
        // Sorted best first, so the survivors are a prefix; the best one always survives.
        var keep = 1
        while keep < candidates.count, candidates[keep].probability >= threshold { keep += 1 }
        candidates.removeSubrange(keep...)
    }

    private mutating func draw() -> Int32 {
        let target = generator.nextUnitFloat()
        var cumulative: Float = 0
        for candidate in candidates {
            cumulative += candidate.probability
            if target < cumulative { return candidate.token }
        }
        return candidates[candidates.count - 1].token
    }
}

/// Restricts which tokens may be drawn (a grammar). The sampler asks about the token it drew
/// first and computes the full mask only when that token is refused.
public protocol TokenConstraint {
    /// Whether `token` may come next.
    func allows(_ token: Int32) -> Bool
    /// Sets the logit of every token that may not come next to -infinity.
    func maskLogits(_ logits: inout [Float])
}

/// A bounded min-heap that keeps the K largest candidates offered to it.
private struct MinHeap {
    private(set) var elements: [Sampler.Candidate] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        elements.reserveCapacity(capacity)
    }

    /// The worst element sits at the root, so a better newcomer replaces it.
    private func worse(_ a: Sampler.Candidate, _ b: Sampler.Candidate) -> Bool { Sampler.better(b, a) }

    mutating func offer(_ candidate: Sampler.Candidate) {
        if elements.count < capacity {
            elements.append(candidate)
            siftUp(elements.count - 1)
        } else if worse(elements[0], candidate) {
            elements[0] = candidate
            siftDown(0)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard worse(elements[child], elements[parent]) else { return }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < elements.count, worse(elements[left], elements[smallest]) { smallest = left }
            if right < elements.count, worse(elements[right], elements[smallest]) { smallest = right }
            if smallest == parent { return }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension Float {
    fileprivate func exp() -> Float {
        #if canImport(Darwin)
        return Darwin.expf(self)
        #else
        return Glibc.expf(self)
        #endif
    }
}

#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
