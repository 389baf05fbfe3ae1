import Foundation
import Store

/// Turns a MODEL argument into a file path: an installed name, a path to a .gguf file, or a
/// catalog name — pulled on first use, with progress on stderr so stdout stays the answer's.
struct ModelLocator {
    let store: ModelStore

    struct Located {
        let path: String
        /// The store name, or nil for a file given by path.
        let name: String?
    }

    func locate(_ reference: String, pullIfMissing: Bool) async throws -> Located {
        let resolved = try store.resolve(reference)
        switch resolved.kind {
        case .installed, .file:
            return Located(path: resolved.url.path, name: resolved.name)
        case .catalogNotInstalled:
            guard pullIfMissing else {
                throw ValidationErrorMessage("model '\(reference)' is not installed; run `hearth pull \(reference)`")
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

/// An error whose description is the whole one-line message.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
