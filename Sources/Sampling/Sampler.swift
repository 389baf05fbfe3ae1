import Kernels

/// One sequence's sampler. The chain is llama.cpp's default order: logit bias → penalties →
/// top-k → typical-p → top-p → min-p → temperature → draw, or with Mirostat on, logit bias →
/// penalties → temperature → Mirostat. Holds per-sequence state (recent tokens, RNG, Mirostat's
/// `mu`), so each session owns one.
///
/// ```swift
/// var sampler = try Sampler(parameters: .init(temperature: 0.7, seed: 42), vocabularySize: 49152)
/// let token = sampler.sample(logits: logits)
/// sampler.accept(token)
/// ```
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    public let vocabularySize: Int
    var generator: SeededGenerator
    /// Recent tokens for the penalties, oldest first; the window is `history[windowStart...]`,
    /// at most `repeatLastN` tokens (all of them when -1).
    private var history: [Int32] = []
    private var windowStart = 0
    /// How often each token occurs in the window, kept as tokens enter and leave it, so the
    /// penalties touch only the window's distinct tokens and build nothing per draw.
    private var windowCounts: [Int32: Int] = [:]
    /// Scratch buffers reused between calls: no allocation per token once warmed up.
    var candidates: [Candidate] = []
    /// `logitBias` as vocabulary indices, checked once here rather than per token.
    private let logitBiasEntries: [(index: Int, bias: Float)]
    /// Mirostat's surprise ceiling in bits: tokens more surprising than this are cut. It starts at
    /// 2·tau and moves after every draw by eta × (tau − observed surprise), so it drifts to where
    /// the draws' surprise averages tau. Unused (and constant) when Mirostat is off.
    public internal(set) var mirostatMu: Float

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
        if let (token, _) = parameters.logitBias.sorted(by: { $0.key < $1.key }).first(where: { Int($0.key) >= vocabularySize }) {
            throw SamplingError(field: "logit_bias", reason: "token \(token) is outside the vocabulary (\(vocabularySize) tokens)")
        }
        self.parameters = parameters
        self.vocabularySize = vocabularySize
        self.generator = SeededGenerator(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
        self.logitBiasEntries = parameters.logitBias.map { (index: Int($0.key), bias: $0.value) }
        self.mirostatMu = 2 * parameters.mirostatTau
    }

    /// Records a token as seen (prompt or generated), for the repetition penalties.
    public mutating func accept(_ token: Int32) {
        let limit = parameters.repeatLastN
        guard limit != 0 else { return }
        history.append(token)
        windowCounts[token, default: 0] += 1
        guard limit > 0, history.count - windowStart > limit else { return }
        let leaving = history[windowStart]
        windowStart += 1
        if let count = windowCounts[leaving], count > 1 {
            windowCounts[leaving] = count - 1
        } else {
            windowCounts[leaving] = nil
        }
        // Drop what has left the window now and then, not on every token.
        if windowStart >= limit {
            history.removeFirst(windowStart)
            windowStart = 0
        }
    }

    /// Forgets the penalty history and Mirostat's learned `mu` (a new conversation in the same session).
    public mutating func reset() {
        history.removeAll(keepingCapacity: true)
        windowStart = 0
        windowCounts.removeAll(keepingCapacity: true)
        mirostatMu = 2 * parameters.mirostatTau
    }

    /// Draws the next token from `logits` (one per vocabulary entry). `logits` is modified in place
    /// by the logit bias and the penalties. Non-finite logits are treated as impossible tokens.
    public mutating func sample(logits: inout [Float]) -> Int32 {
        precondition(logits.count == vocabularySize, "logits count \(logits.count) ≠ vocabulary size \(vocabularySize)")
        applyLogitBias(to: &logits)
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
        applyLogitBias(to: &logits)
        applyPenalties(to: &logits)
        let muBeforeFirstDraw = mirostatMu
        let first = choose(logits)
        if logits[Int(first)].isFinite, constraint.allows(first) { return first }
        // Mirostat learns from the token the sequence gets, not from a refused draw
        // (llama.cpp's common sampler updates mu for both).
        mirostatMu = muBeforeFirstDraw
        constraint.maskLogits(&logits)
        let second = choose(logits)
        return logits[Int(second)].isFinite ? second : nil
    }

    /// Greedy or the truncation chain and a draw, over already-penalised logits.
    private mutating func choose(_ logits: [Float]) -> Int32 {
        if parameters.temperature <= 0 { return Self.argmax(logits) }
        switch parameters.mirostat {
        case 1: return chooseMirostat(logits)
        case 2: return chooseMirostatV2(logits)
        default: break
        }
        if parameters.topK == 1 { return Self.argmax(logits) }
        let k = parameters.topK == 0 ? vocabularySize : min(parameters.topK, vocabularySize)
        // Without top-k or typical-p, the chain needs only the best few of the vocabulary in
        // order: it sorts no more of it than it reads (`chooseFromWholeVocabulary`).
        if k >= vocabularySize, parameters.typicalP >= 1 { return chooseFromWholeVocabulary(logits) }
        if k < vocabularySize {
            selectBest(k, of: logits)
            CandidateHeap.sortBestFirst(&candidates)
        } else {
            // Typical-p weighs every token against the entropy of all of them: a full sort.
            candidates.removeAll(keepingCapacity: true)
            for (index, logit) in logits.enumerated() where logit.isFinite {
                candidates.append(Candidate(token: Int32(index), logit: logit, probability: 0))
            }
            candidates.sort(by: Self.better)
        }
        if candidates.isEmpty { return Self.argmax(logits) }
        softmaxCandidates(temperature: 1)
        applyTypicalP()
        applyTopP()
        applyMinP()
        softmaxCandidates(temperature: parameters.temperature)
        return draw()
    }

    /// The most likely token; ties go to the lowest id, as llama.cpp's greedy sampler does.
    public static func argmax(_ logits: [Float]) -> Int32 {
        Int32(logits.withUnsafeBufferPointer { indexOfLargest($0) })
    }

    // MARK: - The chain

    private func applyLogitBias(to logits: inout [Float]) {
        for entry in logitBiasEntries { logits[entry.index] += entry.bias }
    }

    private func applyPenalties(to logits: inout [Float]) {
        let p = parameters
        guard p.repeatPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 else { return }
        for (token, count) in windowCounts where token >= 0 && Int(token) < vocabularySize {
            var logit = logits[Int(token)]
            // Dividing a negative logit would make the token *more* likely; multiply it instead.
            logit = logit <= 0 ? logit * p.repeatPenalty : logit / p.repeatPenalty
            logit -= Float(count) * p.frequencyPenalty + p.presencePenalty
            logits[Int(token)] = logit
        }
    }

    /// Leaves the `k` best finite logits in `candidates`, in heap order (worst at the front):
    /// O(n log k) at worst, and once the heap is full a group of logits none of which beats its
    /// worst member costs one vector comparison.
    mutating func selectBest(_ k: Int, of logits: [Float]) {
        candidates.removeAll(keepingCapacity: true)
        guard k > 0 else { return }
        logits.withUnsafeBufferPointer { row in
            // A logit equal to the worst kept one loses the tie (its id is higher): strictly above.
            visitElements(of: row, above: -.infinity) { index, logit in
                if logit.isFinite {
                    CandidateHeap.offer(Candidate(token: Int32(index), logit: logit, probability: 0), to: &candidates, keeping: k)
                }
                return candidates.count < k ? -.infinity : candidates[0].logit
            }
        }
    }

    /// A strict total order (ties go to the lower id), so every sort of the same set agrees.
    static func better(_ a: Candidate, _ b: Candidate) -> Bool {
        a.logit != b.logit ? a.logit > b.logit : a.token < b.token
    }

    mutating func softmaxCandidates(temperature: Float) {
        guard let maxLogit = candidates.first?.logit else { return }
        softmaxCandidates(temperature: temperature, maxLogit: maxLogit)
    }

    /// For candidates not sorted best first, whose maximum the caller already knows.
    mutating func softmaxCandidates(temperature: Float, maxLogit: Float) {
        var sum: Float = 0
        for index in candidates.indices {
            let p = ((candidates[index].logit - maxLogit) / temperature).exp()
            candidates[index].probability = p
            sum += p
        }
        for index in candidates.indices { candidates[index].probability /= sum }
    }

    /// Keeps the tokens whose surprise (-ln p) is nearest the entropy H, nearest first, until
    /// their probability passes `typicalP`, then renormalises them (llama.cpp's `typical`).
    /// Candidates are sorted best first, so surprise rises along them and |surprise − H| falls
    /// then rises: the nearest tokens form a window grown outwards from where surprise crosses
    /// H. That takes no sort and no buffer, and the survivors stay sorted for top-p and min-p.
    private mutating func applyTypicalP() {
        let typicalP = parameters.typicalP
        guard typicalP < 1, let best = candidates.first else { return }
        // ln p_i = (logit_i − logit_0) + ln p_0: one logarithm, and exact for probabilities
        // that underflow to zero.
        let logBestProbability = candidates[0].probability.log()
        func surprise(_ index: Int) -> Float { -((candidates[index].logit - best.logit) + logBestProbability) }
        var entropy: Float = 0
        for index in candidates.indices where candidates[index].probability > 0 {
            entropy += candidates[index].probability * surprise(index)
        }
        var crossing = 0
        while crossing < candidates.count, surprise(crossing) < entropy { crossing += 1 }
        // The window kept so far is lower..<upper; it grows by whichever neighbour is nearer H.
        var lower = crossing
        var upper = crossing
        var cumulative: Float = 0
        while lower > 0 || upper < candidates.count {
            let belowDistance = lower > 0 ? abs(surprise(lower - 1) - entropy) : .infinity
            let aboveDistance = upper < candidates.count ? abs(surprise(upper) - entropy) : .infinity
            let taken: Int
            if belowDistance <= aboveDistance {
                lower -= 1
                taken = lower
            } else {
                taken = upper
                upper += 1
            }
            cumulative += candidates[taken].probability
            // Strictly more than typicalP, as llama.cpp has it (top-p stops at ≥).
            if cumulative > typicalP { break }
        }
        if lower == 0, upper == candidates.count { return }
        candidates.removeSubrange(upper...)
        candidates.removeSubrange(..<lower)
        softmaxCandidates(temperature: 1)
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

    mutating func applyMinP() {
        let minP = parameters.minP
        guard minP > 0, let best = candidates.first?.probability else { return }
        let threshold = best * minP
        // Sorted best first, so the survivors are a prefix; the best one always survives.
        var keep = 1
        while keep < candidates.count, candidates[keep].probability >= threshold { keep += 1 }
        candidates.removeSubrange(keep...)
    }

    private mutating func draw() -> Int32 { candidates[drawIndex()].token }

    /// Index into `candidates` of one draw by probability (one value from the generator).
    mutating func drawIndex() -> Int {
        let target = generator.nextUnitFloat()
        var cumulative: Float = 0
        var lastPossible = 0
        for index in candidates.indices {
            let probability = candidates[index].probability
            cumulative += probability
            if target < cumulative { return index }
            if probability > 0 { lastPossible = index }
        }
        // Rounding left the total just under the target. The last candidate may have underflowed
        // to probability 0, and a token the chain gave no chance must not come out (for Mirostat
        // its surprise would be infinite and ruin mu for the rest of the sequence).
        return lastPossible
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

/// A bounded heap kept in a caller's array, so selecting the best K allocates nothing once the
/// array has grown. The worst kept candidate sits at the root, so a better newcomer replaces it.
enum CandidateHeap {
    private static func worse(_ a: Sampler.Candidate, _ b: Sampler.Candidate) -> Bool { Sampler.better(b, a) }

    static func offer(_ candidate: Sampler.Candidate, to heap: inout [Sampler.Candidate], keeping capacity: Int) {
        if heap.count < capacity {
            heap.append(candidate)
            siftUp(heap.count - 1, in: &heap)
        } else if capacity > 0, worse(heap[0], candidate) {
            heap[0] = candidate
            siftDown(0, in: &heap, count: heap.count)
        }
    }

    /// Heapsort in place: the worst goes to the end each round, leaving the array best first.
    static func sortBestFirst(_ heap: inout [Sampler.Candidate]) {
        var count = heap.count
        while count > 1 {
            count -= 1
            heap.swapAt(0, count)
            siftDown(0, in: &heap, count: count)
        }
    }

    private static func siftUp(_ start: Int, in heap: inout [Sampler.Candidate]) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard worse(heap[child], heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func siftDown(_ start: Int, in heap: inout [Sampler.Candidate], count: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < count, worse(heap[left], heap[smallest]) { smallest = left }
            if right < count, worse(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension Float {
    func exp() -> Float {
        #if canImport(Darwin)
        return Darwin.expf(self)
        #else
        return Glibc.expf(self)
        #endif
    }

    func log() -> Float {
        #if canImport(Darwin)
        return Darwin.logf(self)
        #else
        return Glibc.logf(self)
        #endif
    }

    func log2() -> Float {
        #if canImport(Darwin)
        return Darwin.log2f(self)
        #else
        return Glibc.log2f(self)
        #endif
    }
}

#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
