import Engine
import Foundation
import GGUF
import HTTPTypes
import Kernels
import Logging
import Models
import Store

/// A model in memory with its scheduler: `--parallel` slots, each with its own KV cache, that
/// generate together in batched forward passes; two requests never share a cache.
final class ModelInstance: Sendable {
    let name: String
    let loaded: LoadedModel
    let scheduler: BatchScheduler
    let fileSize: Int64
    /// What the model's Modelfile added, as it was when the model loaded.
    let customization: ModelCustomization?
    /// The model drafting for it (speculative decoding), if any.
    let draft: String?
    let loadedAt = Date()
    let usage = UsageClock()

    init(name: String, loaded: LoadedModel, scheduler: BatchScheduler, fileSize: Int64, customization: ModelCustomization?, draft: String? = nil) {
        self.draft = draft
        self.name = name
        self.loaded = loaded
        self.scheduler = scheduler
        self.fileSize = fileSize
        self.customization = customization
    }

    var cacheBytes: Int { scheduler.cacheBytes }
}

/// When a model was last used, how long it stays after that, and how many requests hold it.
final class UsageClock: @unchecked Sendable {
    private let lock = NSLock()
    private var lastUsed = ContinuousClock.now
    private var active = 0
    private var keepAlive: Duration?

    func begin(keepAlive: Duration?) {
        lock.withLock {
            active += 1
            self.keepAlive = keepAlive
            lastUsed = .now
        }
    }

    func end() {
        lock.withLock {
            active -= 1
            lastUsed = .now
        }
    }

    /// Idle and past its keep-alive.
    func isExpired(at now: ContinuousClock.Instant) -> Bool {
        lock.withLock {
            guard active == 0, let keepAlive else { return false }
            return now - lastUsed >= keepAlive
        }
    }

    var isIdle: Bool { lock.withLock { active == 0 } }

    /// When it will unload, or nil when it stays.
    var expiry: Date? {
        lock.withLock {
            guard let keepAlive else { return nil }
            let remaining = keepAlive - (ContinuousClock.now - lastUsed)
            return Date().addingTimeInterval(Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18)
        }
    }
}

/// Loads models on first use, keeps them for their keep-alive, unloads idle ones.
actor ModelManager {
    let store: ModelStore
    let configuration: ServerConfiguration
    private(set) var instances: [String: ModelInstance] = [:] {
        didSet { published.set(instances.values.sorted { $0.name < $1.name }) }
    }
    /// The loaded models as of the last change, readable without waiting for the actor: it is
    /// busy for the whole of a model's load, and `/health` and `/metrics` must answer meanwhile.
    private nonisolated let published = PublishedInstances()
    /// A model was unloaded since the last ``takeUnloaded()``.
    private var unloadedSinceAsked = false
    /// Embedding models (encoders) in memory, and which files are encoders (EmbeddingInstances.swift).
    var embeddingInstances: [String: EmbeddingInstance] = [:]
    var embeddingModelFiles: [String: Bool] = [:]
    let logger: Logger

    init(store: ModelStore, configuration: ServerConfiguration) {
        self.store = store
        self.configuration = configuration
        var logger = Logger(label: "hearth.models")
        logger.logLevel = configuration.logLevel
        self.logger = logger
    }

    /// The installed model a request names. Only names in the store are served: never a path,
    /// so a client cannot make the server open an arbitrary file.
    func installedModel(_ requested: String) throws(APIError) -> InstalledModel {
        try Self.installedModel(requested, in: store, servedFiles: configuration.servedFiles)
    }

    /// Looks `requested` up under both spellings of an untagged name: `name` and `name:latest`
    /// are the same model, as in Ollama.
    static func installedModel(_ requested: String, in store: ModelStore, servedFiles: [InstalledModel] = []) throws(APIError) -> InstalledModel {
        let name = requested.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw .invalidField("model", "is required") }
        var spellings = [name]
        if name.hasSuffix(":latest") { spellings.append(String(name.dropLast(":latest".count))) }
        else if !name.contains(":") { spellings.append(name + ":latest") }
        for spelling in spellings where ModelName.isValid(spelling) {
            if let served = servedFiles.first(where: { $0.name == spelling }) { return served }
            do {
                if let installed = try store.installedModel(named: spelling) { return installed }
            } catch {
                throw APIError(.internalServerError, "cannot read the store: \(error)")
            }
        }
        let base = spellings.last { Catalog.builtIn.entry(named: $0) != nil }
        let hint = base.map { "; pull it first (POST /api/pull or `hearth pull \($0)`)" } ?? ""
        throw .modelNotFound("model '\(requested)' not found\(hint)")
    }

    /// The loaded instance of `requested`, loading it (and unloading idle others when memory is
    /// short) on first use. `keepAlive` nil means the server default.
    ///
    /// `contextLength` is the context a request asks for (Ollama's `num_ctx`), nil for the
    /// server's `--ctx`. A model loaded with less is reloaded with the larger context when no
    /// request is using it (Ollama reloads its runner likewise); one loaded with more serves as
    /// it is. Beyond the model's trained context the request is clamped to it. A model busy with
    /// other requests serves with the context it has (the conversation's oldest turns are then
    /// dropped, or a prompt too long for it refused).
    func acquire(_ requested: String, keepAlive: Duration?? = nil, contextLength: Int? = nil) throws(APIError) -> ModelInstance {
        let installed = try installedModel(requested)
        try refuseGeneration(on: installed, requested: requested)
        let keep = keepAlive ?? configuration.keepAlive
        // Rounded up to a multiple of 4096: apps that size num_ctx from their prompt (aider sends
        // 1.25 × the prompt + 8192) would otherwise reload the model on almost every request.
        let wanted = contextLength.map { $0 <= configuration.contextLength ? $0 : ($0 + 4095) / 4096 * 4096 } ?? configuration.contextLength
        if let instance = instances[installed.name] {
            // A model created again (new template or system prompt) reloads once it is idle.
            let outdated = instance.customization != installed.customization
            if outdated || instance.scheduler.contextLength < min(wanted, instance.loaded.trainedContextLength), instance.usage.isIdle {
                instances[installed.name] = nil
                instance.scheduler.shutdown()
            } else {
                instance.usage.begin(keepAlive: keep)
                return instance
            }
        }
        let instance = try load(installed, contextLength: wanted)
        instance.usage.begin(keepAlive: keep)
        return instance
    }

    private func load(_ installed: InstalledModel, contextLength requestedContext: Int) throws(APIError) -> ModelInstance {
        let loaded: LoadedModel
        var slotBytes: Int
        let contextLength: Int
        var (draft, note) = draftSelection(for: installed)
        if let note { logger.notice("\(note)") }
        do {
            let file = try GGUFFile(path: installed.path)
            contextLength = min(requestedContext, Self.trainedContextLength(file: file) ?? requestedContext)
            slotBytes = try Self.cacheBytes(file: file, contextLength: contextLength, type: configuration.cacheType)
        } catch {
            throw APIError(.internalServerError, "model '\(installed.name)' cannot be read: \(error)")
        }
        // Each slot keeps a draft cache beside its own.
        if let selection = draft {
            do {
                slotBytes += try Self.cacheBytes(file: try GGUFFile(path: selection.installed.path), contextLength: contextLength,
                                                 type: configuration.cacheType)
            } catch {
                logger.notice("draft \(selection.installed.name) for \(installed.name) cannot be read (\(error)); serving without a draft")
                draft = nil
            }
        }
        // `--parallel` as given, or the most slots (of 4, 2, 1) whose KV caches fit.
        let candidates = configuration.parallel.map { [$0] } ?? ServerConfiguration.automaticParallel
        func admitted() -> Result<Int, any Error> {
            var failure: (any Error)?
            for slots in candidates {
                do {
                    try configuration.admitModel(installed.path, slotBytes * slots + configuration.prefixCacheBytes + Int(draft?.installed.size ?? 0))
                    return .success(slots)
                } catch {
                    failure = failure ?? error
                }
            }
            return .failure(failure!)
        }
        var admission = admitted()
        if case .failure = admission {
            // Make room by unloading idle models, then ask again.
            unloadIdle(force: true)
            admission = admitted()
        }
        let slots: Int
        switch admission {
        case .success(let count): slots = count
        case .failure(let error):
            throw APIError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), "model '\(installed.name)' does not fit in memory: \(error)")
        }
        do {
            loaded = try LoadedModel(path: installed.path, threads: configuration.threads, productOrder: configuration.productOrder,
                                     customization: installed.customization?.chat ?? ChatCustomization(),
                                     adapters: try Self.adapters(of: installed, in: store) + configuration.adapters,
                                     cacheType: configuration.cacheType)
            var plan: DraftModel.Plan?
            if let selection = draft {
                switch draftPlan(selection, for: loaded) {
                case .success(let made):
                    plan = made
                    logger.notice("\(selection.installed.name) drafts for \(installed.name) (\(selection.reason))")
                case .failure(let error):
                    logger.notice("\(selection.installed.name) cannot draft for \(installed.name): \(error); serving without a draft")
                }
            }
            let scheduler = try BatchScheduler(model: loaded, configuration: .init(
                slots: slots, contextLength: contextLength, maxQueue: configuration.maxQueue,
                prefixCacheBytes: configuration.prefixCacheBytes, draft: plan))
            let instance = ModelInstance(name: installed.name, loaded: loaded, scheduler: scheduler, fileSize: installed.size,
                                         customization: installed.customization, draft: plan == nil ? nil : draft?.installed.name)
            instances[installed.name] = instance
            return instance
        } catch {
            throw APIError(.internalServerError, "model '\(installed.name)' failed to load: \(error)")
        }
    }

    /// A created model's LoRA adapters, from the store.
    static func adapters(of installed: InstalledModel, in store: ModelStore) throws -> [LoRAAdapter] {
        try (installed.customization?.adapters ?? []).map { try LoRAAdapter(path: store.adapterURL($0).path, scale: $0.scale) }
    }

    /// The context the model was trained for (`ARCH.context_length`), when the file says.
    static func trainedContextLength(file: GGUFFile) -> Int? {
        (try? Hyperparameters.read(file))?.contextLength
    }

    /// KV-cache bytes of one slot of `contextLength` positions (at most the trained context),
    /// from the hyperparameters loading reads.
    static func cacheBytes(file: GGUFFile, contextLength: Int, type: KVCacheType) throws -> Int {
        let hyperparameters: Hyperparameters
        do {
            hyperparameters = try Hyperparameters.read(file)
        } catch {
            throw APIError(.internalServerError, "cannot size the model's KV cache: \(error)")
        }
        return type.cacheBytes(hyperparameters, capacity: min(contextLength, hyperparameters.contextLength))
    }

    /// Unloads models idle past their keep-alive (or every idle one with `force`).
    func unloadIdle(force: Bool = false) {
        let now = ContinuousClock.now
        unloadIdleEmbeddingModels(force: force, now: now)
        for (name, instance) in instances where force ? instance.usage.isIdle : instance.usage.isExpired(at: now) {
            instances[name] = nil
            instance.scheduler.shutdown()
            unloadedSinceAsked = true
        }
    }

    func unload(_ name: String) {
        if let instance = instances[name], instance.usage.isIdle {
            instances[name] = nil
            instance.scheduler.shutdown()
            unloadedSinceAsked = true
        }
    }

    /// Whether a model was unloaded since the last call.
    func takeUnloaded() -> Bool {
        defer { unloadedSinceAsked = false }
        return unloadedSinceAsked
    }

    var loaded: [ModelInstance] { instances.values.sorted { $0.name < $1.name } }

    /// The embedding models in memory, by name.
    var loadedEmbeddingModels: [EmbeddingInstance] { embeddingInstances.values.sorted { $0.name < $1.name } }

    /// The loaded models, without waiting for a load in progress (see `published`).
    nonisolated var loadedNow: [ModelInstance] { published.get() }
}

/// A lock-protected copy of the manager's loaded models.
final class PublishedInstances: @unchecked Sendable {
    private let lock = NSLock()
    private var instances: [ModelInstance] = []

    func set(_ instances: [ModelInstance]) { lock.withLock { self.instances = instances } }
    func get() -> [ModelInstance] { lock.withLock { instances } }
}
