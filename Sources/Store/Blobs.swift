import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files a client uploads before a create names them by digest (Ollama's `POST /api/blobs/:digest`,
/// then `/api/create` with `files` or `adapters`). An upload is written to `tmp/`, hashed on the
/// way, and only reaches `blobs/sha256-HEX` when its bytes have the digest it was sent under.
/// A create consumes the blob: the model is a hard link to it (no copy) and the blob's own name
/// goes; blobs no create used are removed after ``ModelStore/blobLifetime``.
public final class BlobUpload: @unchecked Sendable {
    public let sha256: String
    private let file: StagedFile
    private let destination: URL

    init(sha256: String, file: StagedFile, destination: URL) {
        self.sha256 = sha256
        self.file = file
        self.destination = destination
    }

    /// Appends bytes of the upload (hashing them; the first four must be GGUF's magic).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try file.append(bytes)
    }

    public var byteCount: Int64 { file.byteCount }

    /// Checks the digest and installs the blob; on a mismatch the upload is deleted.
    public func finish() throws {
        let actual: String
        do {
            actual = try file.finish()
        } catch {
            file.discard()
            throw error
        }
        guard actual == sha256 else {
            file.discard()
            throw StoreError(.checksumMismatch, "digest mismatch: the upload's sha256 is \(actual), not \(sha256)")
        }
        do {
            try file.install(at: destination)
        } catch {
            file.discard()
            throw error
        }
    }

    /// Deletes what was written (the client went away, or the upload failed).
    public func discard() {
        file.discard()
    }
}

extension ModelStore {
    public var blobsDirectory: URL { root.appendingPathComponent("blobs", isDirectory: true) }

    /// Uploaded blobs no create used are removed after this long (at the server's start).
    public static let blobLifetime: TimeInterval = 24 * 3600

    /// The lower-case hex of an Ollama digest (`sha256:HEX`, or `sha256-HEX` as its blob files are
    /// named); nil when it is not one.
    public static func sha256(ofDigest digest: String) -> String? {
        let prefixes = ["sha256:", "sha256-"]
        guard let prefix = prefixes.first(where: { digest.hasPrefix($0) }) else { return nil }
        let hex = digest.dropFirst(prefix.count).lowercased()
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        return hex
    }

    func blobURL(sha256: String) -> URL {
        blobsDirectory.appendingPathComponent("sha256-\(sha256)")
    }

    /// A file in the store holding the bytes with this sha256: an uploaded blob, an installed
    /// model's weights, or a kept adapter (so a client that asks before uploading — Ollama's CLI
    /// does — does not send again what the store already has).
    public func file(withSHA256 sha256: String) throws -> URL? {
        let blob = blobURL(sha256: sha256)
        if (try? SHA256Cache.FileIdentity.of(blob))?.isRegularFile == true { return blob }
        if let model = try list().first(where: { $0.sha256 == sha256 }) { return URL(fileURLWithPath: model.path) }
        let adapter = adapterURL(ModelAdapter(sha256: sha256, scale: 1))
        if (try? SHA256Cache.FileIdentity.of(adapter))?.isRegularFile == true { return adapter }
        return nil
    }

    /// Starts an upload of the blob with this sha256 (lower-case hex). `expectedSize` (the
    /// request's Content-Length) is checked against the free space first.
    public func beginBlob(sha256: String, expectedSize: Int64?) throws -> BlobUpload {
        try FileManager.default.createDirectory(at: blobsDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
        if let expectedSize { try DiskSpace.require(expectedSize, at: temporaryDirectory, for: "the upload") }
        let staged = temporaryDirectory.appendingPathComponent(".blob-\(UUID().uuidString)")
        let file = try StagedFile(url: staged, resuming: false)
        file.maximumSize = expectedSize
        return BlobUpload(sha256: sha256, file: file, destination: blobURL(sha256: sha256))
    }

    /// Installs the GGUF with this sha256 (an uploaded blob, or a file the store already holds)
    /// as model `name`: a hard link, no copy, and a manifest with `customization`. An uploaded
    /// blob is consumed. Replaces a model already called `name`, as Ollama's create does.
    @discardableResult
    public func installModel(sha256: String, name: String, customization: ModelCustomization?) throws -> InstalledModel {
        try ModelName.validate(name)
        guard let source = try file(withSHA256: sha256) else {
            throw StoreError(.notInstalled, "no blob sha256:\(sha256): upload it first (POST /api/blobs/sha256:\(sha256))")
        }
        try GGUFMagic.check(fileAt: source)
        let identity = try SHA256Cache.FileIdentity.of(source)
        let staged = temporaryDirectory.appendingPathComponent(".create-\(UUID().uuidString).gguf")
        if link(source.path, staged.path) != 0 { throw StoreError.posix("link", staged.path) }
        defer { unlink(staged.path) }
        if Self.entryExists(manifestURL(name)), unlink(manifestURL(name).path) != 0, errno != ENOENT {
            throw StoreError.posix("delete", manifestURL(name).path)
        }
        let target = modelURL(name)
        if rename(staged.path, target.path) != 0 { throw StoreError.posix("rename", target.path) }
        let installed = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let manifest = Manifest(name: name, sha256: sha256, size: identity.size, source: "uploaded (sha256:\(sha256))",
                                installed: installed, customization: customization)
        try writeManifest(manifest)
        try Durability.syncDirectory(modelsDirectory)
        consumeBlob(sha256: sha256)
        return InstalledModel(name: name, path: target.path, sha256: sha256, size: identity.size,
                              source: manifest.source, modified: installed, customization: customization)
    }

    /// Keeps the adapter with this sha256 (an uploaded blob, or one already kept) in `adapters/`;
    /// the caller has checked it fits its base model. An uploaded blob is consumed.
    public func importAdapter(sha256: String, scale: Float = 1) throws -> ModelAdapter {
        let adapter = ModelAdapter(sha256: sha256, scale: scale)
        let target = adapterURL(adapter)
        if Self.entryExists(target) {
            consumeBlob(sha256: sha256)
            return adapter
        }
        let blob = blobURL(sha256: sha256)
        guard (try? SHA256Cache.FileIdentity.of(blob))?.isRegularFile == true else {
            throw StoreError(.notInstalled, "no blob sha256:\(sha256): upload it first (POST /api/blobs/sha256:\(sha256))")
        }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        if link(blob.path, target.path) != 0 { throw StoreError.posix("link", target.path) }
        try Durability.syncDirectory(target.deletingLastPathComponent())
        consumeBlob(sha256: sha256)
        return adapter
    }

    /// Drops an uploaded blob's name once a model or adapter links its bytes.
    private func consumeBlob(sha256: String) {
        unlink(blobURL(sha256: sha256).path)
    }

    /// Removes uploaded blobs older than `lifetime` that no create used, and uploads that never
    /// finished (a server killed mid-upload).
    public func removeStaleBlobs(olderThan lifetime: TimeInterval = ModelStore.blobLifetime, now: Date = Date()) {
        for (directory, prefix) in [(blobsDirectory, "sha256-"), (temporaryDirectory, ".blob-")] {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { continue }
            for entry in entries where entry.hasPrefix(prefix) {
                let url = directory.appendingPathComponent(entry)
                guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                      now.timeIntervalSince(modified) > lifetime else { continue }
                try? FileManager.default.removeItem(at: url)
            }
        }
    }
}
