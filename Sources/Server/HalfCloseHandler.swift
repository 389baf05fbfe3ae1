import NIOCore

/// Closes a connection as soon as the client shuts down its sending side.
///
/// An HTTP client never half-closes while it still wants the answer; one that does (a script
/// killed mid-request, a proxy giving up) has gone. Go's net/http (Ollama) and llama-server both
/// cancel the request then. Without this, the server keeps the half-closed connection open (it
/// allows remote half-closure) and would only notice at its first write: a request still waiting
/// in the queue would be computed for nobody. Closing completes the channel's close future,
/// which cancels the request wherever it is.
final class HalfCloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
