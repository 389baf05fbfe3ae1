import Advisor
import Engine
import Foundation
import GGUF
import Store

/// Where a served model's draft comes from (`hearth serve --draft`; a created model's `DRAFT`
/// takes precedence): speculative decoding with a smaller model of the same vocabulary gives the
/// same tokens, faster only where the draft guesses well and a pass of several rows costs little
/// more than one — which depends on the machine, so the default uses a draft only where one was
/// measured to pay.
public enum DraftSetting: Sendable, Equatable, CustomStringConvertible {
    /// The fastest installed draft that `hearth bench MODEL --draft DRAFT` measured to pay on
    /// this machine with the server's threads (``DraftAdvice``); none otherwise.
    case automatic
    case none
    /// This model drafts for every served model that shares its vocabulary.
    case model(String)

    /// `auto`, `none`, or a model name.
    public init(_ text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "auto": self = .automatic
        case "none": self = .none
        default: self = .model(text.trimmingCharacters(in: .whitespaces))
        }
    }

    public var description: String {
        switch self {
        case .automatic: "auto"
        case .none: "none"
        case .model(let name): name
        }
    }
}

/// The draft chosen for one served model, before it loads: its file, so its caches count in the
/// model's memory admission, and why it was chosen.
struct DraftSelection {
    let installed: InstalledModel
    let reason: String
}

extension ModelManager {
    /// The draft for `model` (a created model's `DRAFT`, else the server's `--draft`), or nil,
    /// with a note for the log either way. A draft that is missing or is the model itself is
    /// left out with a note, never an error: the model serves the same tokens without it.
    func draftSelection(for model: InstalledModel) -> (DraftSelection?, note: String?) {
        let setting = model.customization?.draft.map(DraftSetting.init) ?? configuration.draft
        switch setting {
        case .none:
            return (nil, nil)
        case .model(let name):
            guard let draft = try? installedModel(name) else {
                return (nil, "draft '\(name)' for \(model.name) is not installed; serving without a draft")
            }
            guard draft.sha256 != model.sha256 else { return (nil, nil) }
            return (DraftSelection(installed: draft, reason: "chosen by \(model.customization?.draft != nil ? "its DRAFT" : "--draft")"), nil)
        case .automatic:
            let installed = ((try? store.list()) ?? []).map { (name: $0.name, sha256: $0.sha256) }
            let records = Array(DraftCache(file: store.root.appendingPathComponent("cache/drafts.json")).recordsByKey().values)
            switch DraftAdvice.choose(modelSHA256: model.sha256, installed: installed, records: records,
                                      host: HostDevice.current().signature, threads: configuration.threads) {
            case .success(let choice):
                guard let draft = try? installedModel(choice.draft) else { return (nil, nil) }
                return (DraftSelection(installed: draft, reason: String(format: "measured %.2f× here", choice.record.speedup)), nil)
            case .failure(.doesNotPay(let record)):
                return (nil, "no draft for \(model.name): \(DraftAdvice.Reason.doesNotPay(record))")
            case .failure:
                return (nil, nil)
            }
        }
    }

    /// The loaded draft's plan for `target`, or nil with why (another vocabulary, a file that
    /// does not load).
    func draftPlan(_ selection: DraftSelection, for target: LoadedModel) -> Result<DraftModel.Plan, any Error> {
        Result {
            let model = try LoadedModel(path: selection.installed.path, threads: configuration.threads,
                                        productOrder: configuration.productOrder, cacheType: configuration.cacheType)
            return try DraftModel.Plan(model: model, for: target, maximumDraft: configuration.draftMaximum,
                                       minimumProbability: configuration.draftMinimumProbability)
        }
    }
}

extension HearthServer {
    /// Checks a created model's `DRAFT` before it is stored: `auto`, `none`, or an installed model with
    /// the vocabulary of the weights at `basePath` (loads both; run off the event loop).
    public static func checkDraft(_ draft: String?, basePath: String, store: ModelStore) throws {
        guard let draft, case .model = DraftSetting(draft) else { return }
        let installed: InstalledModel
        do {
            installed = try ModelManager.installedModel(draft, in: store)
        } catch {
            throw APIError.invalidField("draft", "'\(draft)' is not installed; pull it first, or write DRAFT none")
        }
        let reason: String?
        do {
            reason = DraftModel.incompatibility(of: try LoadedModel(path: installed.path, threads: 1), with: try LoadedModel(path: basePath, threads: 1))
        } catch {
            throw APIError.invalidField("draft", "'\(draft)' cannot be loaded: \(error)")
        }
        if let reason { throw APIError.invalidField("draft", "'\(draft)' cannot draft for this model: \(reason)") }
    }
}
