import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A persistent cache of file hashes (`cache/sha256.json`), so that `hearth show` of a large
/// .gguf hashes it once. An entry is keyed by the file's real absolute path and is only trusted
/// while the file's size, modification time (to the nanosecond) and inode are unchanged.
///
/// The cache file is rewritten atomically under an flock, so concurrent hearth processes never
/// see a torn file; an unreadable cache is treated as empty.
struct SHA256Cache: Sendable {
    let file: URL
    let lockFile: URL
    let counter: HashCounter

    struct Entry: Codable, Equatable {
        var size: Int64
        var modifiedNanoseconds: Int64
        var inode: UInt64
        var sha256: String
    }

    /// What identifies a version of a file on disk.
    struct FileIdentity: Equatable {
        var path: String
        var size: Int64
        var modifiedNanoseconds: Int64
        var inode: UInt64
        var isRegularFile: Bool

        static func of(_ url: URL) throws -> FileIdentity {
            let path = url.resolvingSymlinksInPath().standardizedFileURL.path
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT { throw StoreError(.fileNotFound, "no such file: '\(url.path)'") }
                throw StoreError.posix("stat", path)
            }
            #if canImport(Darwin)
            let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
            #else
            let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            #endif
            return FileIdentity(path: path, size: Int64(info.st_size), modifiedNanoseconds: modified,
                                inode: UInt64(info.st_ino), isRegularFile: (info.st_mode & S_IFMT) == S_IFREG)
        }
    }

    /// The sha256 of the file at `url`, from the cache when the file is unchanged.
    func sha256(ofFileAt url: URL) throws -> String {
        let identity = try FileIdentity.of(url)
        guard identity.isRegularFile else {
            throw StoreError(.fileNotFound, "'\(url.path)' is not a regular file")
        }
        if let cached = try withLock({ load()[identity.path] }),
           cached.size == identity.size, cached.modifiedNanoseconds == identity.modifiedNanoseconds,
           cached.inode == identity.inode {
            return cached.sha256
        }
        let digest = try Self.hashFile(atPath: identity.path)
        counter.increment()
        // Only record the hash if the file did not change while we read it.
        if try FileIdentity.of(url) == identity {
            try record(digest, for: identity)
        }
        return digest
    }

    /// Remembers a hash computed elsewhere (a pull just hashed the file it installed).
    func record(_ sha256: String, for identity: FileIdentity) throws {
        try withLock {
            var entries = load()
            entries[identity.path] = Entry(size: identity.size, modifiedNanoseconds: identity.modifiedNanoseconds,
                                           inode: identity.inode, sha256: sha256)
            // Forget files that are gone, so the cache does not grow without bound.
            entries = entries.filter { FileManager.default.fileExists(atPath: $0.key) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try Durability.writeAtomically(try encoder.encode(entries), to: file)
        }
    }

    private func load() -> [String: Entry] {
        guard let data = try? Data(contentsOf: file),
              let entries = try? JSONDecoder().decode([String: Entry].self, from: data) else { return [:] }
        return entries
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let descriptor = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.posix("open", lockFile.path) }
        defer { close(descriptor) }  // closing releases the flock
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError.posix("lock", lockFile.path) }
        }
        return try body()
    }

    /// Hashes a whole file in large chunks.
    static func hashFile(atPath path: String, onProgress: (Int64) -> Void = { _ in }) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.posix("open", path) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var done: Int64 = 0
        try FileChunks.read(descriptor: descriptor, path: path) { chunk in
            hasher.update(bufferPointer: chunk)
            done += Int64(chunk.count)
            onProgress(done)
        }
        return hasher.finalize().hexString
    }
}

/// Counts full-file hashes (cache misses); observable through `ModelStore.fullHashCount`.
final class HashCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
