import Foundation
import Models

/// A small model that proposes what a larger one with the same vocabulary will write next
/// (speculative decoding with a draft model, llama.cpp's `--model-draft`): it decodes greedily
/// ahead from its own KV cache, and the large model checks all its proposals in one pass, as it
/// checks prompt-lookup proposals. The output is the large model's alone, token for token; the
/// draft only decides how many positions each pass computes.
///
/// One generation uses it at a time (it holds one cache, kept in step with the conversation
/// between passes so each proposal costs only the new tokens); a scheduler gives each slot its
/// own, made from one ``Plan``.
public final class DraftModel: @unchecked Sendable {
    /// A loaded draft and how it proposes, from which each sequence gets its own ``DraftModel``
    /// (`hearth serve --draft`: one per slot).
    public struct Plan: Sendable {
        public let model: LoadedModel
        public let maximumDraft: Int
        public let minimumProbability: Float

        /// Checks the settings and that `model` can draft for `target` (``DraftModel/incompatibility(of:with:)``).
        public init(model: LoadedModel, for target: LoadedModel, maximumDraft: Int = 16, minimumProbability: Float = 0.75) throws {
            try DraftModel.check(maximumDraft: maximumDraft, minimumProbability: minimumProbability)
            if let reason = DraftModel.incompatibility(of: model, with: target) { throw EngineError.invalidOption("draft", reason) }
            self.model = model
            self.maximumDraft = maximumDraft
            self.minimumProbability = minimumProbability
        }

        /// A draft with its own cache of `contextLength` positions.
        public func makeDraft(contextLength: Int) throws -> DraftModel {
            try DraftModel(model: model, contextLength: contextLength, maximumDraft: maximumDraft, minimumProbability: minimumProbability)
        }

        /// Bytes of one draft's KV cache at `contextLength` positions.
        public func cacheBytes(contextLength: Int) -> Int {
            model.model.cacheType.cacheBytes(model.model.hyperparameters, capacity: contextLength)
        }
    }

    public let model: LoadedModel
    /// Most tokens proposed at once.
    public let maximumDraft: Int
    /// A proposal stops at the first token the draft gives less than this probability
    /// (llama.cpp's `--draft-p-min`): unsure guesses cost a draft step and are mostly rejected.
    public let minimumProbability: Float
    private let cache: KVCache
    /// The tokens `cache` holds.
    private var fed: [Int32] = []
    private let lock = NSLock()

    /// `contextLength`: positions the draft can follow (the target session's context).
    public init(model: LoadedModel, contextLength: Int, maximumDraft: Int = 16, minimumProbability: Float = 0.75) throws {
        try Self.check(maximumDraft: maximumDraft, minimumProbability: minimumProbability)
        self.model = model
        self.maximumDraft = maximumDraft
        self.minimumProbability = minimumProbability
        cache = try model.model.makeCache(capacity: max(1, contextLength))
    }

    static func check(maximumDraft: Int, minimumProbability: Float) throws {
        guard (1...64).contains(maximumDraft) else { throw EngineError.invalidOption("--draft-max", "must be in 1...64, got \(maximumDraft)") }
        guard (0...1).contains(minimumProbability) else {
            throw EngineError.invalidOption("--draft-p-min", "must be in 0...1, got \(minimumProbability)")
        }
    }

    /// Why `draft` cannot propose tokens for `target`, or nil when it can: both must map the
    /// same token ids to the same text, or a proposal would mean something else to the target.
    public static func incompatibility(of draft: LoadedModel, with target: LoadedModel) -> String? {
        let draftTokens = draft.tokenizer.vocabularySize, targetTokens = target.tokenizer.vocabularySize
        guard draftTokens == targetTokens else {
            return "the draft has \(draftTokens) tokens and the model \(targetTokens): they need the same vocabulary"
        }
        for id in 0..<Int32(draftTokens) where draft.tokenizer.piece(id, renderSpecial: true) != target.tokenizer.piece(id, renderSpecial: true) {
            return "token \(id) is '\(String(decoding: draft.tokenizer.piece(id, renderSpecial: true), as: UTF8.self))' for the draft and '\(String(decoding: target.tokenizer.piece(id, renderSpecial: true), as: UTF8.self))' for the model: they need the same vocabulary"
        }
        return nil
    }

    /// Up to `count` tokens the draft expects after `history`, greedily, stopping early at a
    /// token it is unsure of. Empty when the history does not fit its context.
    func propose(after history: [Int32], count: Int) throws -> [Int32] {
        lock.lock()
        defer { lock.unlock() }
        guard count > 0, !history.isEmpty, history.count + count <= cache.capacity else { return [] }
        // Keep what the cache shares with the history; always run the last token for its logits.
        let shared = min(zip(fed, history).prefix { $0 == $1 }.count, history.count - 1)
        cache.truncate(to: shared)
        fed.removeSubrange(shared...)
        var logits = try model.model.forward(Array(history[shared...]), cache: cache)
        fed.append(contentsOf: history[shared...])
        var proposal: [Int32] = []
        while proposal.count < count {
            let (best, probability) = Self.mostLikely(logits)
            guard probability >= minimumProbability else { break }
            proposal.append(best)
            guard proposal.count < count else { break }
            logits = try model.model.forward([best], cache: cache)
            fed.append(best)
        }
        return proposal
    }

    /// The most likely token and its probability under the softmax of `logits`.
    static func mostLikely(_ logits: [Float]) -> (token: Int32, probability: Float) {
        var best = 0
        for index in logits.indices where logits[index] > logits[best] { best = index }
        let maximum = logits[best]
        var sum: Float = 0
        for value in logits { sum += expf(value - maximum) }
        return (Int32(best), 1 / sum)
    }
}
