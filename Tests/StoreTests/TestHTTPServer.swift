import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1 for the https-path tests (plain http is allowed to
/// loopback). One response per connection (`Connection: close`). It serves byte ranges and can
/// misbehave on purpose: drop the connection after K body bytes, ignore Range, or answer a
/// Range request with the wrong Content-Range.
final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        let path: String
        let range: String?
        let ifRange: String?
    }

    private let lock = NSLock()
    private let listener: Int32
    private var stopped = false
    private var routes: [String: Data] = [:]
    private var redirects: [String: String] = [:]
    private var log: [Request] = []
    private var dropsLeft = 0
    private var dropAfter = 0
    private var ignoringRange = false
    private var misreportingRange = false
    let port: UInt16

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { close(listener); throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        // Weak, so that the server stops (deinit closes the listener) when a test lets go of it.
        let thread = Thread { [weak self] in
            while let server = self, server.acceptOnce() {}
        }
        thread.start()
    }

    deinit { stop() }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func serve(_ path: String, _ body: Data) { lock.withLock { routes[path] = body } }
    func redirect(_ path: String, to location: String) { lock.withLock { redirects[path] = location } }
    /// The next `count` responses send only `bytes` body bytes and then close the connection.
    func dropConnections(count: Int, afterBytes bytes: Int) {
        lock.withLock { dropsLeft = count; dropAfter = bytes }
    }
    func ignoreRange(_ on: Bool) { lock.withLock { ignoringRange = on } }
    func misreportRange(_ on: Bool) { lock.withLock { misreportingRange = on } }
    var requests: [Request] { lock.withLock { log } }

    func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        if !wasStopped { close(listener) }
    }

    /// Waits a moment for one connection and serves it on its own thread; false once stopped.
    private func acceptOnce() -> Bool {
        guard !lock.withLock({ stopped }) else { return false }
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 50) > 0 else { return true }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return true }
        let thread = Thread { [self] in
            handle(connection)
            close(connection)
        }
        thread.start()
        return true
    }

    private func handle(_ connection: Int32) {
        guard let head = readHead(connection) else { return }
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return }
        let path = String(parts[1])
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(path: path, range: headers["range"], ifRange: headers["if-range"])
        let (body, location, ignoring, misreporting, drop) = lock.withLock { () -> (Data?, String?, Bool, Bool, Int?) in
            log.append(request)
            var drop: Int?
            if routes[path] != nil, dropsLeft > 0 {
                dropsLeft -= 1
                drop = dropAfter
            }
            return (routes[path], redirects[path], ignoringRange, misreportingRange, drop)
        }
        if let location {
            send(connection, "HTTP/1.1 302 Found\r\nLocation: \(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        }
        guard let body else {
            let message = "not found\n"
            send(connection, "HTTP/1.1 404 Not Found\r\nContent-Length: \(message.utf8.count)\r\nConnection: close\r\n\r\n\(message)")
            return
        }
        let etag = "\"fixture-\(body.count)\""
        var start = 0
        var status = "200 OK"
        var extra = ""
        if !ignoring, let range = request.range, range.hasPrefix("bytes="), range.hasSuffix("-"),
           let first = Int(range.dropFirst("bytes=".count).dropLast()) {
            guard first < body.count else {
                send(connection, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */\(body.count)\r\n"
                        + "Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            }
            start = first
            status = "206 Partial Content"
            let claimed = misreporting ? 0 : first
            extra = "Content-Range: bytes \(claimed)-\(body.count - 1)/\(body.count)\r\n"
        }
        let slice = body[body.startIndex + start..<body.endIndex]
        send(connection, "HTTP/1.1 \(status)\r\nContent-Length: \(slice.count)\r\nETag: \(etag)\r\n"
                + "Accept-Ranges: bytes\r\n\(extra)Connection: close\r\n\r\n")
        send(connection, drop.map { slice.prefix($0) } ?? slice)
    }

    private func readHead(_ connection: Int32) -> String? {
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < 64 * 1024 {
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            received.append(buffer, count: count)
            if let end = received.range(of: Data("\r\n\r\n".utf8)) {
                return String(decoding: received[..<end.lowerBound], as: UTF8.self)
            }
        }
        return nil
    }

    private func send(_ connection: Int32, _ text: String) { send(connection, Data(text.utf8)) }

    private func send(_ connection: Int32, _ data: Data) {
        #if canImport(Glibc)
        let flags = Int32(MSG_NOSIGNAL)  // a client that hung up must not SIGPIPE the test runner
        #else
        let flags: Int32 = 0
        #endif
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = posixSend(connection, bytes.baseAddress! + offset, bytes.count - offset, flags)
                if sent <= 0 { return }
                offset += sent
            }
        }
    }
}

/// `send(2)`, named so the methods called `send` above do not shadow it.
private func posixSend(_ socket: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    send(socket, buffer, count, flags)
}
