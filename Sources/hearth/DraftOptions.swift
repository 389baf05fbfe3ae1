import ArgumentParser
import Engine
import Foundation
import Store

/// `--draft MODEL` and `--draft-p-min P`: speculative decoding with a draft model.
struct DraftOptions: ParsableArguments {
    @Option(name: .customLong("draft"), help: "A draft model with the model's vocabulary (catalog name, installed name or .gguf path): it proposes the next tokens greedily and the model checks them in one pass. Same output; faster when the draft guesses well and a pass of several rows costs little more than one (qwen2.5-coder:0.5b for qwen2.5-coder:1.5b).")
    var draft: String?

    @Option(name: .customLong("draft-p-min"), help: "With --draft: stop a proposal at the first token the draft gives less than this probability.")
    var draftPMin: Float = 0.75

    func validate() throws {
        guard (0...1).contains(draftPMin) else { throw ValidationError("--draft-p-min must be in 0...1, got \(draftPMin)") }
    }

    /// The draft model for `target`, loaded and checked to share its vocabulary; nil without `--draft`.
    func load(for target: LoadedModel, store: ModelStore, threads: Int, contextLength: Int, maximumDraft: Int) async throws -> DraftModel? {
        guard let draft else { return nil }
        let located = try await ModelLocator(store: store).locate(draft, pullIfMissing: true, loadsWeights: true)
        let model = try LoadedModel(path: located.path, threads: threads, cacheType: target.model.cacheType)
        if let reason = DraftModel.incompatibility(of: model, with: target) {
            throw ValidationErrorMessage("--draft \(draft): \(reason)")
        }
        return try DraftModel(model: model, contextLength: contextLength, maximumDraft: maximumDraft, minimumProbability: draftPMin)
    }
}
