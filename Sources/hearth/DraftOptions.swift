import Advisor
import ArgumentParser
import Engine
import Foundation
import Server
import Store

/// `--draft MODEL` and `--draft-p-min P`: speculative decoding with a draft model.
struct DraftOptions: ParsableArguments {
    @Option(name: .customLong("draft"), help: "A draft model with the model's vocabulary (catalog name, installed name or .gguf path): it proposes the next tokens greedily and the model checks them in one pass. Same output; faster when the draft guesses well and a pass of several rows costs little more than one (qwen2.5-coder:0.5b for qwen2.5-coder:1.5b). `hearth run` without it uses the model's DRAFT, else a draft `hearth bench MODEL --draft DRAFT` measured to pay here; auto is that default; none turns it off.")
    var draft: String?

    @Option(name: .customLong("draft-p-min"), help: "With --draft: stop a proposal at the first token the draft gives less than this probability.")
    var draftPMin: Float = 0.75

    func validate() throws {
        guard (0...1).contains(draftPMin) else { throw ValidationError("--draft-p-min must be in 0...1, got \(draftPMin)") }
        if let draft, draft.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--draft needs a model name (or none)") }
    }

    /// `--draft` as a model name: nil without it, or with `auto` or `none`.
    var explicit: String? {
        guard let draft, case .model(let name) = DraftSetting(draft) else { return nil }
        return name
    }

    /// The draft model for `target`, loaded and checked to share its vocabulary; nil without `--draft MODEL`.
    func load(for target: LoadedModel, store: ModelStore, threads: Int, contextLength: Int, maximumDraft: Int) async throws -> DraftModel? {
        guard let name = explicit else { return nil }
        return try await load(name, for: target, store: store, threads: threads, contextLength: contextLength, maximumDraft: maximumDraft,
                              option: "--draft")
    }

    /// `hearth run`'s draft: `--draft`, else the model's `DRAFT`, else `auto` — the automatic choice
    /// (``DraftAdvice``: a draft measured to pay on this machine with these threads), said on
    /// standard error so the user knows; nil when none applies.
    func choose(for target: LoadedModel, named name: String?, customization: ModelCustomization?, store: ModelStore, threads: Int,
                contextLength: Int, maximumDraft: Int) async throws -> DraftModel? {
        let (setting, option) = draft.map { (DraftSetting($0), "--draft") }
            ?? customization?.draft.map { (DraftSetting($0), "the model's DRAFT") } ?? (.automatic, "draft")
        switch setting {
        case .none:
            return nil
        case .model(let chosen):
            return try await load(chosen, for: target, store: store, threads: threads, contextLength: contextLength,
                                  maximumDraft: maximumDraft, option: option)
        case .automatic:
            break
        }
        guard let name, let installed = try? store.installedModel(named: name) else { return nil }
        let candidates = try store.list().map { (name: $0.name, sha256: $0.sha256) }
        let records = Array(DraftCache(file: store.root.appendingPathComponent("cache/drafts.json")).recordsByKey().values)
        guard case .success(let choice) = DraftAdvice.choose(modelSHA256: installed.sha256, installed: candidates, records: records,
                                                              host: HostDevice.current().signature, threads: threads) else { return nil }
        FileHandle.standardError.write(Data(String(format: "draft: %@ (measured %.2f× here; --draft none turns it off)\n",
                                                   choice.draft, choice.record.speedup).utf8))
        return try await load(choice.draft, for: target, store: store, threads: threads, contextLength: contextLength,
                              maximumDraft: maximumDraft, option: "draft")
    }

    private func load(_ name: String, for target: LoadedModel, store: ModelStore, threads: Int, contextLength: Int, maximumDraft: Int,
                      option: String) async throws -> DraftModel {
        let located = try await ModelLocator(store: store).locate(name, pullIfMissing: true, loadsWeights: true)
        let model = try LoadedModel(path: located.path, threads: threads, cacheType: target.model.cacheType)
        if let reason = DraftModel.incompatibility(of: model, with: target) {
            throw ValidationErrorMessage("\(option) \(name): \(reason)")
        }
        return try DraftModel(model: model, contextLength: contextLength, maximumDraft: maximumDraft, minimumProbability: draftPMin)
    }
}
