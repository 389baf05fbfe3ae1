import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// https pulls: streamed to `tmp/NAME.partial` with a sidecar `tmp/NAME.partial.json` recording
/// what is being downloaded, so that a broken or killed pull is resumed with a Range request —
/// within the same pull (a few automatic retries) and by the next pull of the same name.
enum WebSource {
    /// Parses and checks a URL: https anywhere, plain http only to loopback (for tests and local
    /// mirrors, where no one can tamper with the bytes in transit).
    static func validate(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              let host = url.host, !host.isEmpty else {
            throw StoreError(.invalidSource, "invalid URL '\(ModelName.printable(text))'")
        }
        switch scheme {
        case "https":
            return url
        case "http":
            guard isLoopback(host) else {
                throw StoreError(.invalidSource,
                                 "refusing plain http:// for '\(host)': use https:// (http is only allowed for localhost)")
            }
            return url
        default:
            throw StoreError(.invalidSource,
                             "unsupported URL scheme '\(scheme)': use https:// (or http:// for localhost)")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// What the partial file is a download of; a pull resumes only a matching partial.
    struct Sidecar: Codable, Equatable {
        var url: String
        var expectedSHA256: String?
        /// The full size, once a response has told it.
        var totalBytes: Int64?
        /// A strong ETag or Last-Modified, sent as If-Range so a changed file is sent whole.
        var validator: String?
    }

    /// A failure worth another attempt (the connection dropped, a 5xx): keeps the partial.
    struct RetryableFailure: Error {
        let reason: String
    }

    /// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
    static func parseContentRange(_ value: String) -> (start: Int64, end: Int64, total: Int64?)? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst("bytes ".count)
        let halves = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        let bounds = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Int64(bounds[0]), let end = Int64(bounds[1]), start >= 0, end >= start else {
            return nil
        }
        let total: Int64?
        if halves[1] == "*" { total = nil }
        else {
            guard let value = Int64(halves[1]), value > end else { return nil }
            total = value
        }
        return (start, end, total)
    }

    /// Parses the total of `bytes */TOTAL` (a 416 answer).
    static func parseUnsatisfiedRange(_ value: String) -> Int64? {
        let trimmed = value.trimmingCharacters(in: .whitespaces).lowercased()
        guard trimmed.hasPrefix("bytes */") else { return nil }
        return Int64(trimmed.dropFirst("bytes */".count))
    }
}

extension ModelStore {
    func download(_ url: URL, name: String, expectedSHA256: String?,
                  progress: @escaping @Sendable (PullProgress) -> Void) async throws
        -> (file: StagedFile, sha256: String, source: String) {
        let partial = partialURL(name)
        let throttle = ProgressThrottle(total: nil, report: progress)
        let fresh = WebSource.Sidecar(url: url.absoluteString, expectedSHA256: expectedSHA256)
        var sidecar = fresh
        var file: StagedFile
        if let previous = readSidecar(name), previous.url == fresh.url, previous.expectedSHA256 == expectedSHA256,
           FileManager.default.fileExists(atPath: partial.path) {
            // The hash must cover every byte, so the kept bytes are read once more.
            sidecar = previous
            throttle.total = previous.totalBytes
            do {
                file = try StagedFile(url: partial, resuming: true) { done in
                    throttle.update("checking partial download", done)
                }
                if let total = previous.totalBytes, file.byteCount > total { try file.truncateToEmpty() }
            } catch let error as StoreError where error.code == .notGGUF {
                sidecar = fresh
                file = try StagedFile(url: partial, resuming: false)
            }
        } else {
            file = try StagedFile(url: partial, resuming: false)
        }
        do {
            try writeSidecar(sidecar, name: name)
            try await fetchWithRetries(url, into: file, sidecar: &sidecar, name: name, throttle: throttle)
            throttle.update("verifying", file.byteCount, force: true)
            let digest = try file.finish()
            return (file, digest, url.absoluteString)
        } catch is CancellationError {
            throw CancellationError()  // keep the partial: a later pull resumes it
        } catch let failure as WebSource.RetryableFailure {
            // Keep the partial and its sidecar: the next pull resumes from here.
            let kept = file.byteCount
            throw StoreError(.networkFailure,
                             "download of \(url.absoluteString) failed after \(policy.maximumAttempts) attempts: \(failure.reason)"
                                 + (kept > 0 ? " (\(ByteCount.format(kept)) kept; pull again to resume)" : ""))
        } catch {
            file.discard()
            removeSidecar(name)
            throw error
        }
    }

    private func fetchWithRetries(_ url: URL, into file: StagedFile, sidecar: inout WebSource.Sidecar,
                                  name: String, throttle: ProgressThrottle) async throws {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,  // followed by hand, to check each hop's scheme
            timeout: .init(connect: .nanoseconds(policy.connectTimeout.nanoseconds),
                           read: .nanoseconds(policy.readTimeout.nanoseconds)),
            decompression: .disabled)
        configuration.httpVersion = .automatic
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var lastFailure: WebSource.RetryableFailure?
        for attempt in 1...max(1, policy.maximumAttempts) {
            if attempt > 1 {
                let delay = policy.retryDelay * (1 << min(attempt - 2, 6))
                throttle.update("connection lost, retrying (attempt \(attempt)/\(policy.maximumAttempts))",
                                file.byteCount, force: true)
                try? await Task.sleep(for: delay)
            }
            do {
                try await fetchOnce(url, client: client, into: file, sidecar: &sidecar, name: name, throttle: throttle)
                lastFailure = nil
                break
            } catch let failure as WebSource.RetryableFailure {
                lastFailure = failure
            } catch {
                try? await client.shutdown()
                throw error
            }
            if Task.isCancelled { break }
        }
        try? await client.shutdown()
        if Task.isCancelled { throw CancellationError() }
        if let lastFailure { throw lastFailure }
    }

    /// One request (following redirects) that appends to `file` from its current size.
    /// Returns when the file is complete; throws RetryableFailure when it is worth another try.
    private func fetchOnce(_ url: URL, client: HTTPClient, into file: StagedFile, sidecar: inout WebSource.Sidecar,
                           name: String, throttle: ProgressThrottle) async throws {
        var target = url
        for _ in 0...10 {
            let offset = file.byteCount
            var request = HTTPClientRequest(url: target.absoluteString)
            request.headers.add(name: "User-Agent", value: "hearth")
            request.headers.add(name: "Accept-Encoding", value: "identity")
            if offset > 0 {
                request.headers.add(name: "Range", value: "bytes=\(offset)-")
                if let validator = sidecar.validator { request.headers.add(name: "If-Range", value: validator) }
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .hours(24 * 7))
            } catch {
                throw WebSource.RetryableFailure(reason: "\(error)")
            }
            let status = Int(response.status.code)
            let statusText = "HTTP \(status) \(response.status.reasonPhrase)"
            let header = { (name: String) in response.headers.first(name: name) }

            switch status {
            case 301, 302, 303, 307, 308:
                guard let location = header("Location"), let next = URL(string: location, relativeTo: target)?.absoluteURL else {
                    throw StoreError(.httpProtocol, "\(statusText) from \(target.absoluteString) without a usable Location")
                }
                target = try WebSource.validate(next.absoluteString)
                continue
            case 200:
                if offset > 0 { try file.truncateToEmpty() }  // the server sends the whole file again
                let total = header("Content-Length").flatMap { Int64($0) }
                try record(total: total, validator: Self.validator(header), in: &sidecar, name: name)
            case 206:
                guard let range = header("Content-Range").flatMap(WebSource.parseContentRange) else {
                    try file.truncateToEmpty()
                    throw WebSource.RetryableFailure(reason: "206 answer with a missing or malformed Content-Range")
                }
                guard range.start == offset, sidecar.totalBytes == nil || range.total == nil || range.total == sidecar.totalBytes else {
                    // Not the bytes we asked for, or the file changed size: start over.
                    try file.truncateToEmpty()
                    throw WebSource.RetryableFailure(
                        reason: "server answered bytes \(range.start)-\(range.end)/\(range.total.map(String.init) ?? "*") "
                            + "to a request from byte \(offset)")
                }
                try record(total: range.total ?? sidecar.totalBytes, validator: Self.validator(header),
                           in: &sidecar, name: name)
            case 416:
                let total = header("Content-Range").flatMap(WebSource.parseUnsatisfiedRange)
                if offset > 0, total == offset { return }  // we already have every byte
                try file.truncateToEmpty()
                throw WebSource.RetryableFailure(reason: "server refused the range from byte \(offset) (416)")
            case 408, 429, 500...599:
                throw WebSource.RetryableFailure(reason: "\(statusText) from \(target.absoluteString)")
            default:
                throw StoreError(.httpStatus, "\(statusText) for \(target.absoluteString)")
            }

            throttle.total = sidecar.totalBytes
            file.maximumSize = sidecar.totalBytes
            if let total = sidecar.totalBytes {
                try DiskSpace.require(total - file.byteCount, at: temporaryDirectory, for: "'\(name)'")
            }
            let phase = "downloading \(url.lastPathComponent)"
            do {
                for try await buffer in response.body {
                    try buffer.withUnsafeReadableBytes { try file.append($0) }
                    throttle.update(phase, file.byteCount)
                }
            } catch let error as StoreError {
                throw error
            } catch {
                throw WebSource.RetryableFailure(reason: "connection lost after \(file.byteCount) bytes: \(error)")
            }
            if let total = sidecar.totalBytes, file.byteCount < total {
                throw WebSource.RetryableFailure(reason: "connection closed after \(file.byteCount) of \(total) bytes")
            }
            return
        }
        throw StoreError(.httpProtocol, "too many redirects from \(url.absoluteString)")
    }

    /// Stores what the response told about the file; a changed validator means a changed file.
    private func record(total: Int64?, validator: String?, in sidecar: inout WebSource.Sidecar, name: String) throws {
        var updated = sidecar
        updated.totalBytes = total
        updated.validator = validator
        if updated != sidecar {
            sidecar = updated
            try writeSidecar(sidecar, name: name)
        }
    }

    /// A strong ETag, else Last-Modified: what If-Range accepts.
    private static func validator(_ header: (String) -> String?) -> String? {
        if let etag = header("ETag"), !etag.hasPrefix("W/") { return etag }
        return header("Last-Modified")
    }

    func readSidecar(_ name: String) -> WebSource.Sidecar? {
        guard let data = try? Data(contentsOf: sidecarURL(name)) else { return nil }
        return try? JSONDecoder().decode(WebSource.Sidecar.self, from: data)
    }

    func writeSidecar(_ sidecar: WebSource.Sidecar, name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try Durability.writeAtomically(try encoder.encode(sidecar), to: sidecarURL(name))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
