import Foundation
import Store

/// Deterministic fixture bytes: "GGUF" followed by a 64-bit LCG stream. The sha256 constants
/// below were computed independently (Python hashlib over the same generator), so the tests
/// do not check the store's hashing against itself.
enum Fixture {
    static func bytes(count: Int, seed: UInt64) -> Data {
        var data = Data("GGUF".utf8)
        data.reserveCapacity(count)
        var state = seed
        while data.count < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            data.append(UInt8(truncatingIfNeeded: state >> 33))
        }
        return data
    }

    /// 3,000,000 bytes, seed 1.
    static let small = bytes(count: 3_000_000, seed: 1)
    static let smallSHA256 = "1dc75bac60c74ef138564cc2fc9dd91d51df69b8c45c9b812902b6bbe9940faa"
    /// 3,000,000 bytes, seed 2.
    static let other = bytes(count: 3_000_000, seed: 2)
    static let otherSHA256 = "dfc6022adde02af31c460bc86acd117bdce34f66b467a91ca8a47c1fcaeb2591"
}

/// A fresh directory under the system temp dir, deleted when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init(_ label: String = "store") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("hearth-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String, _ contents: Data) throws -> URL {
        let file = url.appendingPathComponent(name)
        try contents.write(to: file)
        return file
    }
}

/// A store in a temporary HEARTH_HOME, with fast retries for tests.
struct TestStore {
    let directory: TemporaryDirectory
    var store: ModelStore

    init(catalog: Catalog = .builtIn) throws {
        directory = try TemporaryDirectory()
        store = try ModelStore(root: directory.url.appendingPathComponent("home"), catalog: catalog)
        store.policy.retryDelay = .milliseconds(10)
        store.policy.maximumAttempts = 3
    }

    var root: URL { store.root }
    func model(_ name: String) -> URL { root.appendingPathComponent("models/\(name).gguf") }
    func manifest(_ name: String) -> URL { root.appendingPathComponent("manifests/\(name).json") }
    var tmp: URL { root.appendingPathComponent("tmp") }

    /// Files in tmp/ other than the per-name lock files (which are meant to stay).
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { !$0.hasSuffix(".lock") }.sorted()
    }

    func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }
}

/// Collects progress reports from a pull (called from any thread).
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [PullProgress] = []
    private let watched: URL?
    private var sawWatchedFile = false

    /// `watching`: a path that must not exist while the pull is in progress.
    init(watching: URL? = nil) { watched = watching }

    func record(_ progress: PullProgress) {
        lock.lock()
        defer { lock.unlock() }
        reports.append(progress)
        if let watched, progress.phase != PullProgress.alreadyInstalledPhase, FileManager.default.fileExists(atPath: watched.path) {
            sawWatchedFile = true
        }
    }

    var all: [PullProgress] { lock.withLock { reports } }
    var finalPathAppearedEarly: Bool { lock.withLock { sawWatchedFile } }
}

extension StoreError.Code {
    /// For `#expect(throws:)`: matches a StoreError of this code.
    func matches(_ error: any Error) -> Bool { (error as? StoreError)?.code == self }
}
