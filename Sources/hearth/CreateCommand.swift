import ArgumentParser
import Engine
import Foundation
import Server
import Store

/// `hearth create NAME -f Modelfile`: a model made from another with Ollama's Modelfile.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a model from a Modelfile (system prompt, template, default options).",
        discussion: """
            The Modelfile is Ollama's: FROM (an installed or catalog name, or a path to a .gguf \
            file, imported first), PARAMETER name value (Ollama's option names), SYSTEM, TEMPLATE \
            (a Jinja chat template, as GGUF files carry them), MESSAGE role text, LICENSE, ADAPTER \
            (a LoRA adapter in llama.cpp's GGUF format, copied into the store). Values \
            may span lines between \"\"\" and \"\"\". The new model shares the weights of the one it \
            is made from (a hard link; nothing is copied). Creating a name again replaces it.
            """)

    @Argument(help: "Name of the new model.")
    var name: String

    @Option(name: [.customShort("f"), .customLong("file")], help: "The Modelfile (default: ./Modelfile).")
    var file: String = "Modelfile"

    func run() async throws {
        var name = name.trimmingCharacters(in: .whitespaces)
        if name.hasSuffix(":latest") { name.removeLast(":latest".count) }
        try ModelName.validate(name)
        let url = URL(fileURLWithPath: (file as NSString).expandingTildeInPath).standardizedFileURL
        let modelfile = try Modelfile.parse(try RunCommand.readText(url.path, option: "-f"))
        do {
            try HearthServer.validate(modelfile.customization)
        } catch {
            throw ValidationErrorMessage("\(file): \(error)")
        }
        let store = try ModelStore(root: ModelStore.defaultRoot())
        let folder = url.deletingLastPathComponent()
        let base = try await baseModel(modelfile.from, relativeTo: folder, store: store)
        var customization = modelfile.customization
        if !modelfile.adapters.isEmpty {
            // Each adapter is checked against the base model's shapes before it is kept.
            let paths = modelfile.adapters.map { Self.path($0, relativeTo: folder) }
            let adapters = try paths.map { path in
                do { return try LoRAAdapter(path: path) } catch { throw ValidationErrorMessage("\(file): ADAPTER \(path): \(error)") }
            }
            guard let installed = try store.installedModel(named: base) else { throw ValidationErrorMessage("\(base) is not installed") }
            do {
                _ = try LoadedModel(path: installed.path, threads: 1, adapters: adapters)
            } catch {
                throw ValidationErrorMessage("\(file): ADAPTER does not fit \(base): \(error)")
            }
            customization.adapters = try paths.map { try store.importAdapter(at: $0) }
        }
        if let installed = try store.installedModel(named: base) {
            do {
                try HearthServer.checkDraft(customization.draft, basePath: installed.path, store: store)
            } catch {
                throw ValidationErrorMessage("\(file): DRAFT: \(error)")
            }
        }
        let created = try store.create(name, from: base, customization: customization)
        print("created \(created.name) from \(base) (sha256 \(created.sha256), no weights copied)")
    }

    /// A path a Modelfile names (FROM, ADAPTER): `~` expanded, relative to the Modelfile's folder.
    static func path(_ written: String, relativeTo folder: URL) -> String {
        let expanded = (written as NSString).expandingTildeInPath
        return expanded.hasPrefix("/") ? expanded : folder.appendingPathComponent(expanded).standardizedFileURL.path
    }

    /// The store name of FROM: an installed or catalog name (pulled on first use), or a .gguf
    /// path (relative to the Modelfile's folder, as Ollama reads it) imported into the store.
    func baseModel(_ from: String, relativeTo folder: URL, store: ModelStore) async throws -> String {
        let looksLikePath = from.contains("/") || from.hasPrefix("~") || from.hasPrefix(".") || from.hasSuffix(".gguf")
        if !looksLikePath {
            let located = try await ModelLocator(store: store).locate(from, pullIfMissing: true)
            if let name = located.name { return name }
        }
        let path = Self.path(from, relativeTo: folder)
        let imported = try await store.pull(path) { _ in }
        FileHandle.standardError.write(Data("imported \(path) as \(imported.name)\n".utf8))
        return imported.name
    }
}
