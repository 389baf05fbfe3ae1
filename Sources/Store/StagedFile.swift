import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file a pull writes: it lives in the store's `tmp/` directory, every byte appended is
/// hashed on the way to disk, and it only reaches its final path through ``install(at:)``
/// (fsync, then an atomic rename, then an fsync of the directory). Until then the final path is
/// untouched, so a pull killed at any point leaves at worst this temporary file behind.
final class StagedFile {
    let url: URL
    private var descriptor: Int32
    private var hasher = SHA256()
    private(set) var byteCount: Int64 = 0
    /// The first bytes written, kept until four have arrived to check the GGUF magic early:
    /// a URL that serves an HTML page fails after four bytes, not after the whole body.
    private var head: [UInt8] = []
    /// Appending past this many bytes fails (a source larger than it claims).
    var maximumSize: Int64?
    /// Whether the bytes must start with the GGUF magic (not for a dataset).
    var checksGGUFMagic = true

    /// Opens `url` for writing. With `resuming`, keeps the bytes already there and hashes them
    /// first (`onHashed` sees the running count), otherwise starts from an empty file.
    init(url: URL, resuming: Bool, onHashed: (Int64) -> Void = { _ in }) throws {
        self.url = url
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (resuming ? 0 : O_TRUNC)
        descriptor = open(url.path, flags, 0o644)
        guard descriptor >= 0 else { throw StoreError.posix("open", url.path) }
        if resuming {
            do {
                try hashExistingBytes(onHashed: onHashed)
            } catch {
                // deinit still runs after this throw: -1 keeps it from closing the number twice.
                close(descriptor)
                descriptor = -1
                throw error
            }
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    private func hashExistingBytes(onHashed: (Int64) -> Void) throws {
        let reader = open(url.path, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw StoreError.posix("open", url.path) }
        defer { close(reader) }
        try FileChunks.read(descriptor: reader, path: url.path) { chunk in
            observeHead(chunk)
            hasher.update(bufferPointer: chunk)
            byteCount += Int64(chunk.count)
            onHashed(byteCount)
        }
        try checkMagicIfComplete()
        guard lseek(descriptor, off_t(byteCount), SEEK_SET) >= 0 else { throw StoreError.posix("seek", url.path) }
    }

    /// Appends `bytes`, hashing them.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        if let maximumSize, byteCount + Int64(bytes.count) > maximumSize {
            throw StoreError(.sizeMismatch,
                             "the source is larger than expected: more than \(maximumSize) bytes")
        }
        if head.count < 4 {
            observeHead(bytes)
            try checkMagicIfComplete()
        }
        hasher.update(bufferPointer: bytes)
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("write", url.path)
            }
            offset += written
        }
        byteCount += Int64(bytes.count)
    }

    func append(_ data: Data) throws {
        try data.withUnsafeBytes { try append($0) }
    }

    /// Drops everything written so far (a server that ignored our Range request sends it all again).
    func truncateToEmpty() throws {
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw StoreError.posix("truncate", url.path)
        }
        hasher = SHA256()
        byteCount = 0
        head = []
    }

    /// Flushes the bytes to disk and returns the lower-case hex sha256 of everything written.
    func finish() throws -> String {
        guard byteCount >= 4 else {
            throw StoreError(.notGGUF, "not a GGUF file: only \(byteCount) bytes")
        }
        guard fsync(descriptor) == 0 else { throw StoreError.posix("fsync", url.path) }
        close(descriptor)
        descriptor = -1
        return hasher.finalize().hexString
    }

    /// Atomically moves the finished file to `destination` and makes the rename durable.
    func install(at destination: URL) throws {
        guard descriptor < 0 else { preconditionFailure("install(at:) before finish()") }
        guard rename(url.path, destination.path) == 0 else {
            throw StoreError.posix("rename to", destination.path)
        }
        try Durability.syncDirectory(destination.deletingLastPathComponent())
    }

    /// Closes and deletes the file.
    func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        unlink(url.path)
    }

    private func observeHead(_ bytes: UnsafeRawBufferPointer) {
        guard head.count < 4 else { return }
        head.append(contentsOf: bytes.prefix(4 - head.count))
    }

    private func checkMagicIfComplete() throws {
        guard checksGGUFMagic, head.count == 4 else { return }
        try GGUFMagic.check(head, what: "the downloaded data")
    }
}

/// The 4-byte magic every GGUF file starts with: a cheap sanity check, not a parse.
public enum GGUFMagic {
    static let bytes: [UInt8] = Array("GGUF".utf8)

    static func check(_ head: [UInt8], what: String) throws {
        guard head.count >= 4, Array(head.prefix(4)) == bytes else {
            let shown = head.prefix(4).map { byte in
                (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "."
            }.joined()
            throw StoreError(.notGGUF, "\(what) is not a GGUF file (it starts with '\(shown)', not 'GGUF')")
        }
    }

    /// Throws `.notGGUF` unless the file at `url` starts with `GGUF`.
    public static func check(fileAt url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.posix("open", url.path) }
        defer { close(descriptor) }
        var head = [UInt8](repeating: 0, count: 4)
        let count = head.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, 4) }
        try check(Array(head.prefix(max(count, 0))), what: "'\(url.path)'")
    }
}

/// Reading a file in large chunks without loading it whole.
enum FileChunks {
    static let chunkSize = 4 << 20

    static func read(descriptor: Int32, path: String, body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = posixRead(descriptor, buffer.baseAddress!, chunkSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError.posix("read", path)
            }
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// `read(2)` under a name the static `FileChunks.read` does not shadow.
@inline(__always)
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

enum Durability {
    /// fsync on a directory makes a rename or unlink inside it survive a crash.
    static func syncDirectory(_ directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.posix("open directory", directory.path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StoreError.posix("fsync directory", directory.path) }
    }

    /// Deletes the temporaries of `writeAtomically` (`.NAME.PID.RANDOM.tmp`) whose writing
    /// process no longer runs: a kill between create and rename leaves one behind.
    static func removeAbandonedTemporaries(in directory: URL) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for entry in entries where entry.hasPrefix(".") && entry.hasSuffix(".tmp") {
            let parts = entry.dropLast(".tmp".count).split(separator: ".")
            guard parts.count >= 3, UInt32(parts[parts.count - 1]) != nil, let pid = pid_t(parts[parts.count - 2]), pid > 0,
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(directory.appendingPathComponent(entry).path)
        }
    }

    /// Writes `data` to `url` atomically: a temporary file beside it, fsync, rename, fsync of the directory.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.posix("create", temporary.path) }
        var failure: StoreError?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = StoreError.posix("write", temporary.path)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = StoreError.posix("fsync", temporary.path) }
        close(descriptor)
        if failure == nil, rename(temporary.path, url.path) != 0 { failure = StoreError.posix("rename to", url.path) }
        if let failure {
            unlink(temporary.path)
            throw failure
        }
        try syncDirectory(url.deletingLastPathComponent())
    }
}

/// Free space where the store writes, from statvfs.
enum DiskSpace {
    static func available(at directory: URL) throws -> Int64 {
        var info = statvfs()
        guard statvfs(directory.path, &info) == 0 else { throw StoreError.posix("statvfs", directory.path) }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Throws `.insufficientDiskSpace` when `needed` bytes (plus a small reserve) do not fit.
    static func require(_ needed: Int64, at directory: URL, for what: String) throws {
        let reserve: Int64 = 16 << 20
        let free = try available(at: directory)
        guard needed + reserve <= free else {
            throw StoreError(.insufficientDiskSpace,
                             "not enough disk space to pull \(what): needs \(ByteCount.format(needed + reserve)), "
                                 + "\(ByteCount.format(free)) available in \(directory.deletingLastPathComponent().path)")
        }
    }
}

extension Sequence<UInt8> {
    /// Lower-case hexadecimal, two digits per byte.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
