import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 channel with what it cannot see added in front: a cap on open
/// connections (in total and per client address), a deadline for a request's headers, and the
/// checks that need the HTTP/1 request line, which Hummingbird's conversion to HTTP types drops
/// (the protocol version) or folds away (an absolute-form target's authority).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let connections: ConnectionCounter
    let headerTimeout: TimeAmount?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = connections.open(from: address)
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            if let refusal = admitted.refusal {
                channel.closeFuture.whenComplete { _ in connections.close(from: address, admitted: false) }
                try pipeline.addHandler(RefuseConnectionHandler(reason: refusal), position: .first)
                return value
            }
            channel.closeFuture.whenComplete { _ in connections.close(from: address, admitted: true) }
            let state = RequestHeadState()
            let codec = try pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self)
            try pipeline.addHandler(RequestLineGuard(state: state), position: .before(codec.handler))
            if let headerTimeout {
                try pipeline.addHandler(HeaderDeadline(state: state, timeout: headerTimeout), position: .first)
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with Hearth's connection guard (see ``GuardedHTTP1Channel``).
    static func guardedHTTP1(
        configuration: HTTP1Channel.Configuration, connections: ConnectionCounter, headerTimeout: TimeAmount?
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: configuration),
                                connections: connections, headerTimeout: headerTimeout)
        }
    }
}

/// Open connections, in total and per client address, against their caps.
final class ConnectionCounter: @unchecked Sendable {
    let maximumTotal: Int
    let maximumPerClient: Int
    private let lock = NSLock()
    private var total = 0
    private var perClient: [String: Int] = [:]

    init(maximumTotal: Int, maximumPerClient: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerClient = maximumPerClient
    }

    struct Admission {
        /// Why the connection is refused; nil when it is admitted.
        let refusal: String?
    }

    func open(from address: String) -> Admission {
        lock.lock()
        defer { lock.unlock() }
        if total >= maximumTotal {
            return Admission(refusal: "too many open connections (the server's limit is \(maximumTotal); see --max-connections)")
        }
        let fromClient = perClient[address, default: 0]
        if fromClient >= maximumPerClient {
            return Admission(refusal: "too many open connections from \(address) (the limit is \(maximumPerClient) per client; see --max-connections-per-client)")
        }
        total += 1
        perClient[address] = fromClient + 1
        return Admission(refusal: nil)
    }

    func close(from address: String, admitted: Bool) {
        guard admitted else { return }
        lock.lock()
        defer { lock.unlock() }
        total -= 1
        let remaining = perClient[address, default: 1] - 1
        perClient[address] = remaining > 0 ? remaining : nil
    }

    var openConnections: Int {
        lock.lock()
        defer { lock.unlock() }
        return total
    }
}

/// Answers a connection past the caps with 503 and closes it, before reading anything.
final class RefuseConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let reason: String

    init(reason: String) { self.reason = reason }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the client sends is dropped: the answer is already on its way.
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
    }

    private var refused = false

    private func refuse(context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        let body = APIError(.serviceUnavailable, reason).openAIBody.serialized
        let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Retry-After: 1\r\nConnection: close\r\n\r\n" + body
        // Closing a socket with unread input resets it, and the client would see the reset, not
        // the answer: shut down our side, read and drop what the client still sends for a
        // moment, then close.
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(string: response))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}

/// Shared by the two handlers of one connection; touched only on its event loop.
final class RequestHeadState: @unchecked Sendable {
    /// True from the end of one request until the next one's headers are complete.
    var awaitingHead = true
    var deadline: Scheduled<Void>?
}

/// Closes a connection whose request headers take longer than `timeout` from their first byte
/// (a client trickling a header a byte at a time never trips the idle timeout).
final class HeaderDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let state: RequestHeadState
    let timeout: TimeAmount

    init(state: RequestHeadState, timeout: TimeAmount) {
        self.state = state
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state.awaitingHead, state.deadline == nil {
            let channel = context.channel
            let state = self.state
            state.deadline = context.eventLoop.scheduleTask(in: timeout) {
                if state.awaitingHead { channel.close(promise: nil) }
            }
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.deadline?.cancel()
    }
}

/// Checks each request line and its Host header where the HTTP/1 version and the raw target are
/// still known (RFC 9112 § 3.2):
/// - HTTP/1.1 requires a Host header; a request without one is marked as bad.
/// - An absolute-form target (`GET http://host/path`) names the host itself: it must agree with
///   the Host header, and the request then goes on as origin-form (`/path`) with that host, so the
///   Host policy judges the name the client actually asked for.
/// A problem travels to ``HostMiddleware`` as ``framingProblemHeader``, which answers it as a 400
/// in the API's own error shape; a client cannot send that header itself (it is removed).
final class RequestLineGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    static let framingProblemHeader = "x-hearth-framing-problem"
    static let framingProblemField = HTTPField.Name(framingProblemHeader)!

    let state: RequestHeadState

    init(state: RequestHeadState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            state.awaitingHead = false
            state.deadline?.cancel()
            state.deadline = nil
            head.headers.remove(name: Self.framingProblemHeader)
            if let problem = Self.normalise(&head) {
                head.headers.add(name: Self.framingProblemHeader, value: problem)
            }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body(let body):
            context.fireChannelRead(wrapInboundOut(.body(body)))
        case .end(let trailers):
            state.awaitingHead = true
            context.fireChannelRead(wrapInboundOut(.end(trailers)))
        }
    }

    /// Rewrites an absolute-form target to origin-form; returns what is wrong with the request
    /// line or its Host, if anything.
    static func normalise(_ head: inout HTTPRequestHead) -> String? {
        let hosts = head.headers["Host"]
        if let (authority, path) = absoluteForm(head.uri) {
            guard let targetHost = HostPolicy.hostName(authority) else {
                return "malformed request target '\(head.uri.prefix(200))': its authority is not host[:port]"
            }
            if let host = hosts.first, hosts.count == 1, HostPolicy.hostName(host) != targetHost {
                return "the request target names host '\(targetHost)' but the Host header names '\(host.prefix(200))'"
            }
            head.uri = path
            if hosts.count <= 1 {
                head.headers.replaceOrAdd(name: "Host", value: authority)
            }
            return nil
        }
        if hosts.isEmpty, head.version.major == 1, head.version.minor >= 1 {
            return "missing Host header (HTTP/1.1 requires one)"
        }
        return nil
    }

    /// `(authority, path-and-query)` of an absolute-form target; nil for any other form.
    static func absoluteForm(_ target: String) -> (String, String)? {
        let lowered = target.prefix(8).lowercased()
        let schemeLength = lowered.hasPrefix("http://") ? 7 : lowered.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return nil }
        let rest = target.dropFirst(schemeLength)
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = String(rest[..<end])
        var path = String(rest[end...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return (authority, path)
    }
}
