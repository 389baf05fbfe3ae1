import Advisor
import Foundation
import GGUF
import Store

/// Turns a MODEL argument into a file path: an installed name, a path to a .gguf file, or a
/// catalog name — pulled on first use, with progress on stderr so stdout stays the answer's.
struct ModelLocator {
    let store: ModelStore

    struct Located {
        let path: String
        /// The store name, or nil for a file given by path.
        let name: String?
        /// What a Modelfile added, for a created model.
        var customization: ModelCustomization? = nil
    }

    /// `loadsWeights`: the caller will load the model, so one that cannot fit in memory is refused
    /// here (a catalog model too large for this machine is refused before any download either way).
    func locate(_ reference: String, pullIfMissing: Bool, loadsWeights: Bool = false) async throws -> Located {
        let resolved = try store.resolve(reference)
        switch resolved.kind {
        case .installed, .file:
            if loadsWeights { try Self.refuseIfTooLarge(path: resolved.url.path, name: resolved.name ?? reference) }
            let customization = try resolved.name.flatMap { try store.installedModel(named: $0) }?.customization
            return Located(path: resolved.url.path, name: resolved.name, customization: customization)
        case .catalogNotInstalled:
            guard pullIfMissing else {
                throw ValidationErrorMessage("model '\(reference)' is not installed; run `hearth pull \(reference)`")
            }
            if let entry = resolved.catalogEntry {
                try Self.refuseIfTooLarge(name: reference, shape: FitGate.estimatedShape(fileBytes: Double(entry.size)),
                                          estimated: true, override: "set \(FitGate.overrideVariable)=1 to pull it anyway")
            }
            FileHandle.standardError.write(Data("pulling \(reference) (first use)\n".utf8))
            let reporter = ProgressReporter()
            do {
                let installed = try await store.pull(reference) { reporter.report($0) }
                reporter.finish()
                return Located(path: installed.path, name: installed.name)
            } catch {
                reporter.finish()
                throw error
            }
        }
    }
}

extension ModelLocator {
    /// Refuses, before it is loaded, a model the memory estimate of `hearth fit` says cannot fit
    /// here. A file whose header the estimate cannot read is left for the loader to judge.
    static func refuseIfTooLarge(path: String, name: String) throws {
        guard !FitGate.isOverridden, let file = try? GGUFFile(path: path), let shape = try? ModelShape(file: file) else { return }
        try refuseIfTooLarge(name: name, shape: shape, estimated: false,
                             override: "set \(FitGate.overrideVariable)=1 to load it anyway")
    }

    static func refuseIfTooLarge(name: String, shape: ModelShape, estimated: Bool, override: String) throws {
        guard !FitGate.isOverridden else { return }
        let target = HostDevice.current().target(bandwidth: 0, bandwidthSource: "not needed for a memory check")
        if let refusal = FitGate.refusal(model: name, shape: shape, target: target, estimated: estimated, howToOverride: override) {
            throw ValidationErrorMessage(refusal)
        }
    }
}

/// An error whose description is the whole one-line message.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
